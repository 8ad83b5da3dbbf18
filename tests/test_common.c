/*
 * test_common.c — unit tests for src/common.c: error names, diagnostics,
 * checked allocation and the exact text<->integer conversions (days, money,
 * currencies, doubles) that the importer, the store and the exporter must
 * agree on byte for byte.
 *
 * Conversions are checked three ways: fixed known answers, rejection of
 * malformed input (with the out-parameter left untouched), and round trips
 * over whole ranges or many pseudo-random values.  The random values come
 * from a fixed-seed generator so a failure is reproducible.  These tests must
 * not depend on the locale, the clock or files on disk.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"

/* splitmix64: small, fixed-seed, good enough to spread test values. */
struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* ---- days -------------------------------------------------------------- */

static int day_parse_str(const char *s, int32_t *ret)
{
	return st_day_parse(s, strlen(s), ret);
}

static void day_parse_known(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int32_t day;
	} cases[] = {
		{"1970-01-01", 0},     {"1970-01-02", 1},	{"1970-12-31", 364},
		{"1972-02-29", 789},   {"2000-01-01", 10957},	{"2000-02-29", 11016},
		{"2024-02-29", 19782}, {"2026-03-01", 20513},	{"2038-01-19", 24855},
		{"2100-03-01", 47541}, {"9999-12-31", 2932896},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(cases); i++) {
		int32_t day = -1;
		assert_int_equal(day_parse_str(cases[i].s, &day), 0);
		assert_int_equal(day, cases[i].day);
	}
}

static void day_parse_leap_years(void **state)
{
	(void)state;
	int32_t day;
	assert_int_equal(day_parse_str("2024-02-29", &day), 0);
	assert_int_equal(day_parse_str("2000-02-29", &day), 0); /* divisible by 400 */
	assert_int_equal(day_parse_str("2026-02-29", &day), ST_E_INVALID);
	assert_int_equal(day_parse_str("2100-02-29", &day), ST_E_INVALID); /* by 100, not 400 */
	assert_int_equal(day_parse_str("2024-02-30", &day), ST_E_INVALID);
	assert_int_equal(day_parse_str("2026-02-28", &day), 0);
}

static void day_parse_month_lengths(void **state)
{
	(void)state;
	int32_t day;
	static const char *ok[] = {"2026-01-31", "2026-03-31", "2026-04-30",
				   "2026-06-30", "2026-07-31", "2026-08-31",
				   "2026-09-30", "2026-11-30", "2026-12-31"};
	static const char *bad[] = {"2026-04-31", "2026-06-31", "2026-09-31",
				    "2026-11-31", "2026-01-32", "2026-12-32"};
	for (size_t i = 0; i < ST_ARRAY_LEN(ok); i++)
		assert_int_equal(day_parse_str(ok[i], &day), 0);
	for (size_t i = 0; i < ST_ARRAY_LEN(bad); i++)
		assert_int_equal(day_parse_str(bad[i], &day), ST_E_INVALID);
}

static void day_parse_rejects_bad_formats(void **state)
{
	(void)state;
	static const char *bad[] = {
		"",
		"2026-1-01",
		"2026-01-1",
		"2026-13-01",
		"2026-00-10",
		"2026-01-00",
		"2026-01-01x",
		"2026-01-01 ",
		" 2026-01-01",
		"2026/01/01",
		"20260101",
		"2026-01-0a",
		"2026-0a-01",
		"202a-01-01",
		"+2026-01-01",
		"-202-01-01",
		"2026--01-01",
		"1969-12-31",
		"0000-01-01",
		"1900-01-01",
		"10000-01-01",
		"2026-01-01T00:00:00Z",
		"2026-+1-01",
		"2026- 1-01",
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(bad); i++) {
		int32_t day = 4242;
		if (day_parse_str(bad[i], &day) != ST_E_INVALID)
			fail_msg("accepted bad day \"%s\"", bad[i]);
		/* out-parameters are written only on success */
		assert_int_equal(day, 4242);
	}
}

static void day_parse_honours_len(void **state)
{
	(void)state;
	int32_t day = -1;
	/* only the first len bytes are the input; the rest must be ignored */
	assert_int_equal(st_day_parse("2024-02-29T10:00:00Z", 10, &day), 0);
	assert_int_equal(day, 19782);
	assert_int_equal(st_day_parse("2024-02-29", 9, &day), ST_E_INVALID);
	assert_int_equal(st_day_parse("2024-02-29", 0, &day), ST_E_INVALID);
	/* not NUL-terminated: a heap copy without the terminator, under ASan */
	char *p = malloc(10);
	assert_non_null(p);
	memcpy(p, "1970-01-02", 10);
	assert_int_equal(st_day_parse(p, 10, &day), 0);
	assert_int_equal(day, 1);
	free(p);
}

static void day_format_known(void **state)
{
	(void)state;
	char buf[16];
	memset(buf, 'X', sizeof(buf));
	st_day_format(0, buf);
	assert_string_equal(buf, "1970-01-01");
	assert_int_equal(buf[11], 'X'); /* exactly 10 characters and a NUL */
	st_day_format(19782, buf);
	assert_string_equal(buf, "2024-02-29");
	st_day_format(11016, buf);
	assert_string_equal(buf, "2000-02-29");
	st_day_format(47541, buf);
	assert_string_equal(buf, "2100-03-01");
	st_day_format(2932896, buf);
	assert_string_equal(buf, "9999-12-31");
}

static unsigned month_days(unsigned y, unsigned m)
{
	static const unsigned n[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : n[m - 1];
}

/* Walk the whole supported calendar one day at a time with an independent
 * month-length table: every date must parse to the running day count and
 * format back to the same text. */
static void day_round_trip_all(void **state)
{
	(void)state;
	int32_t expect = 0;
	char text[16], out[16];
	for (unsigned y = 1970; y <= 9999; y++) {
		for (unsigned m = 1; m <= 12; m++) {
			unsigned nd = month_days(y, m);
			for (unsigned d = 1; d <= nd; d++, expect++) {
				snprintf(text, sizeof(text), "%04u-%02u-%02u", y % 10000, m % 100,
					 d % 100);
				int32_t day = -1;
				if (st_day_parse(text, 10, &day) != 0 || day != expect)
					fail_msg("parse %s: got %" PRId32 ", want %" PRId32, text,
						 day, expect);
				st_day_format(expect, out);
				if (strcmp(out, text) != 0)
					fail_msg("format %" PRId32 ": got %s, want %s", expect, out,
						 text);
			}
			/* the day after the month's last is invalid */
			if (nd < 31) {
				snprintf(text, sizeof(text), "%04u-%02u-%02u", y % 10000, m % 100,
					 (nd + 1) % 100);
				int32_t day;
				if (st_day_parse(text, 10, &day) != ST_E_INVALID)
					fail_msg("accepted %s", text);
			}
		}
	}
	assert_int_equal(expect, 2932897);
}

/* ---- money ------------------------------------------------------------- */

static int money_parse_str(const char *s, int64_t *ret)
{
	return st_money_parse(s, strlen(s), ret);
}

static void money_parse_known(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int64_t v;
	} cases[] = {
		{"0", 0},
		{"-0", 0},
		{"0.0", 0},
		{"1", 1000000},
		{"-1", -1000000},
		{"0.000001", 1},
		{"-0.000001", -1},
		{"12.5", 12500000},
		{"-12.5", -12500000},
		{"12.50", 12500000},
		{"123.456789", 123456789},
		{"0.1", 100000},
		{"1.1234560", 1123456},	     /* a 7th digit that is zero is exact */
		{"2.100000000000", 2100000}, /* so are any number of them */
		{"007.25", 7250000},
		{"9223372036854.775807", INT64_MAX},
		{"-9223372036854.775807", -INT64_MAX},
		{"9223372036854", 9223372036854000000LL},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(cases); i++) {
		int64_t v = 4242;
		int rc = money_parse_str(cases[i].s, &v);
		if (rc != 0)
			fail_msg("\"%s\": %s", cases[i].s, st_strerror(rc));
		if (v != cases[i].v)
			fail_msg("\"%s\": got %" PRId64 ", want %" PRId64, cases[i].s, v,
				 cases[i].v);
	}
}

static void money_parse_rejects_invalid(void **state)
{
	(void)state;
	static const char *bad[] = {
		"",	 "-",	".",	 "-.",	 ".5",	"-.5", "1.",   "-1.",	   "+1",   "+0.5",
		"1e3",	 "1E3", "1.5e2", "1e-6", " 1",	"1 ",  "1,5",  "1_000",	   "0x10", "--1",
		"1.2.3", "abc", "1-",	 "- 1",	 "inf", "nan", "1..2", "\xd9\xa1",
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(bad); i++) {
		int64_t v = 4242;
		int rc = money_parse_str(bad[i], &v);
		if (rc != ST_E_INVALID)
			fail_msg("\"%s\": got %d (%s), want ST_E_INVALID", bad[i], rc,
				 st_strerror(rc));
		assert_int_equal(v, 4242);
	}
}

static void money_parse_rejects_excess_precision(void **state)
{
	(void)state;
	static const char *bad[] = {"0.0000001", "1.1234567", "-1.1234561", "12.50000001",
				    "0.0000000000001"};
	for (size_t i = 0; i < ST_ARRAY_LEN(bad); i++) {
		int64_t v = 4242;
		int rc = money_parse_str(bad[i], &v);
		if (rc != ST_E_LIMIT)
			fail_msg("\"%s\": got %d (%s), want ST_E_LIMIT", bad[i], rc,
				 st_strerror(rc));
		assert_int_equal(v, 4242);
	}
}

static void money_parse_rejects_overflow(void **state)
{
	(void)state;
	static const char *big[] = {
		"9223372036854.775808",
		"9223372036855",
		"-9223372036855",
		"10000000000000",
		"99999999999999999999999999999",
		"18446744073709.551616",
		"-99999999999999999999.5",
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(big); i++) {
		int64_t v = 4242;
		int rc = money_parse_str(big[i], &v);
		if (rc != ST_E_LIMIT)
			fail_msg("\"%s\": got %d (%s), want ST_E_LIMIT", big[i], rc,
				 st_strerror(rc));
		assert_int_equal(v, 4242);
	}
}

static void money_parse_honours_len(void **state)
{
	(void)state;
	int64_t v = 0;
	assert_int_equal(st_money_parse("12.5 USD", 4, &v), 0);
	assert_int_equal(v, 12500000);
	assert_int_equal(st_money_parse("12.5", 3, &v), ST_E_INVALID); /* "12." */
	assert_int_equal(st_money_parse("7", 0, &v), ST_E_INVALID);
}

static void money_format_known(void **state)
{
	(void)state;
	static const struct {
		int64_t v;
		const char *s;
	} cases[] = {
		{0, "0"},
		{1, "0.000001"},
		{-1, "-0.000001"},
		{100000, "0.1"},
		{1000000, "1"},
		{-1000000, "-1"},
		{12500000, "12.5"},
		{-12500000, "-12.5"},
		{123456789, "123.456789"},
		{1000010, "1.00001"},
		{INT64_MAX, "9223372036854.775807"},
		{INT64_MIN, "-9223372036854.775808"},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(cases); i++) {
		char buf[ST_MONEY_BUF];
		memset(buf, 'X', sizeof(buf));
		size_t n = st_money_format(cases[i].v, buf);
		assert_string_equal(buf, cases[i].s);
		assert_int_equal(n, strlen(cases[i].s));
	}
}

static void money_check_round_trip(int64_t v)
{
	char buf[ST_MONEY_BUF];
	size_t n = st_money_format(v, buf);
	assert_int_equal(n, strlen(buf));
	int64_t back = 0;
	int rc = st_money_parse(buf, n, &back);
	if (rc != 0 || back != v)
		fail_msg("%" PRId64 " -> \"%s\" -> rc %d, %" PRId64, v, buf, rc, back);
	/* canonical: no '+', no trailing fractional zeros, no bare '.' */
	assert_true(buf[0] != '+');
	if (strchr(buf, '.'))
		assert_true(buf[n - 1] != '0' && buf[n - 1] != '.');
	if (v == 0)
		assert_string_equal(buf, "0");
}

static void money_round_trip(void **state)
{
	(void)state;
	/* INT64_MIN is left out: its text does not parse back, see
	 * money_parse_rejects_overflow ("-9223372036854.775808" is one past the
	 * parser's range, which is symmetric around zero). */
	static const int64_t edges[] = {0,	    1,
					-1,	    9,
					10,	    999999,
					1000000,    1000001,
					-999999,    INT64_MAX,
					-INT64_MAX, INT64_MAX - 1,
					100000,	    9223372036854000000LL};
	for (size_t i = 0; i < ST_ARRAY_LEN(edges); i++)
		money_check_round_trip(edges[i]);
	for (int64_t v = -100000; v <= 100000; v++)
		money_check_round_trip(v * 37);
	struct rng r = {42};
	for (int i = 0; i < 200000; i++) {
		uint64_t x = rng_next(&r);
		int64_t v = (int64_t)((x >> (x & 63)) & (uint64_t)INT64_MAX); /* all magnitudes */
		if (x & (1ULL << 62))
			v = -v;
		money_check_round_trip(v);
	}
}

/* Any accepted text formats back to one canonical form that is itself
 * accepted with the same value. */
static void money_text_canonicalises(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"12.50", "12.5"}, {"-0", "0"},	       {"0.000000", "0"},
		{"007.10", "7.1"}, {"1.0000000", "1"}, {"-3.000100", "-3.0001"},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(cases); i++) {
		int64_t v;
		char buf[ST_MONEY_BUF];
		assert_int_equal(money_parse_str(cases[i].in, &v), 0);
		st_money_format(v, buf);
		assert_string_equal(buf, cases[i].out);
	}
}

/* ---- currencies -------------------------------------------------------- */

static void currency_known(void **state)
{
	(void)state;
	uint16_t usd = 0, eur = 0, aaa = 1, zzz = 0;
	char buf[4];
	assert_int_equal(st_currency_parse("USD", 3, &usd), 0);
	assert_int_equal(st_currency_parse("EUR", 3, &eur), 0);
	assert_int_equal(st_currency_parse("AAA", 3, &aaa), 0);
	assert_int_equal(st_currency_parse("ZZZ", 3, &zzz), 0);
	assert_int_not_equal(usd, eur);
	assert_true(zzz < 0x8000); /* 15 bits */
	st_currency_format(usd, buf);
	assert_string_equal(buf, "USD");
	st_currency_format(eur, buf);
	assert_string_equal(buf, "EUR");
	st_currency_format(aaa, buf);
	assert_string_equal(buf, "AAA");
	st_currency_format(zzz, buf);
	assert_string_equal(buf, "ZZZ");
	/* only the first len bytes count */
	uint16_t c = 0;
	assert_int_equal(st_currency_parse("GBP,", 3, &c), 0);
	st_currency_format(c, buf);
	assert_string_equal(buf, "GBP");
}

static void currency_rejects_invalid(void **state)
{
	(void)state;
	static const char *bad[] = {"",	   "U",	  "US",	 "USDD", "usd", "Usd", "US1",
				    "U$D", "U D", " US", "@AA",	 "[AA", "AA`", "AA{"};
	for (size_t i = 0; i < ST_ARRAY_LEN(bad); i++) {
		uint16_t c = 4242;
		if (st_currency_parse(bad[i], strlen(bad[i]), &c) != ST_E_INVALID)
			fail_msg("accepted currency \"%s\"", bad[i]);
		assert_int_equal(c, 4242);
	}
	uint16_t c = 4242;
	assert_int_equal(st_currency_parse("USD", 2, &c), ST_E_INVALID);
	assert_int_equal(c, 4242);
}

/* All 26^3 codes: distinct, within 15 bits, and formatted back exactly. */
static void currency_round_trip_all(void **state)
{
	(void)state;
	uint8_t *seen = calloc(1u << 16, 1);
	assert_non_null(seen);
	char in[4] = {0}, out[4];
	for (char a = 'A'; a <= 'Z'; a++) {
		for (char b = 'A'; b <= 'Z'; b++) {
			for (char z = 'A'; z <= 'Z'; z++) {
				in[0] = a;
				in[1] = b;
				in[2] = z;
				uint16_t code = 0;
				assert_int_equal(st_currency_parse(in, 3, &code), 0);
				assert_true(code < 0x8000);
				if (seen[code])
					fail_msg("%s shares code %u with another currency", in,
						 (unsigned)code);
				seen[code] = 1;
				st_currency_format(code, out);
				assert_string_equal(out, in);
			}
		}
	}
	free(seen);
}

/* ---- doubles ----------------------------------------------------------- */

static void double_expect(double v, const char *want)
{
	char buf[32];
	memset(buf, 'X', sizeof(buf));
	size_t n = st_double_format(v, buf);
	if (strcmp(buf, want) != 0)
		fail_msg("%.17g: got \"%s\", want \"%s\"", v, buf, want);
	assert_int_equal(n, strlen(want));
}

static void double_format_known(void **state)
{
	(void)state;
	double_expect(0.1, "0.1");
	double_expect(1, "1");
	double_expect(12.5, "12.5");
	double_expect(-12.5, "-12.5");
	double_expect(1e300, "1e+300");
	double_expect(-1e300, "-1e+300");
	double_expect(0, "0");
	double_expect(-1, "-1");
	double_expect(0.001, "0.001");
	double_expect(123456789, "123456789");
	double_expect(1.0 / 3, "0.3333333333333333");
	double_expect(0.1 + 0.2, "0.30000000000000004");
	double_expect(5e-324, "5e-324");
	double_expect(DBL_MAX, "1.7976931348623157e+308");
	double_expect(-DBL_MIN, "-2.2250738585072014e-308");
}

/* Whole numbers of ordinary size are written as plain integers, the way the
 * JSON export and the HTTP API show them ("request_rate": 10, not 1e+01). */
static void double_format_integers_plain(void **state)
{
	(void)state;
	double_expect(10, "10");
	double_expect(100, "100");
	double_expect(-20, "-20");
	double_expect(1500, "1500");
	double_expect(1000000, "1000000");
	struct rng r = {7};
	for (int i = 0; i < 20000; i++) {
		int64_t k = (int64_t)(rng_next(&r) % 2000000000000000ULL) - 1000000000000000LL;
		char want[32];
		snprintf(want, sizeof(want), "%" PRId64, k);
		double_expect((double)k, want);
	}
}

/* Significant digits of a %g-style string: from the first non-zero digit to
 * the last non-zero digit of the part before any exponent ("100" -> 1). */
static int significant_digits(const char *s)
{
	int first = -1, last = -1, pos = 0;
	for (const char *p = s; *p && *p != 'e' && *p != 'E'; p++) {
		if (*p < '0' || *p > '9')
			continue;
		if (*p != '0') {
			if (first < 0)
				first = pos;
			last = pos;
		}
		pos++;
	}
	return first < 0 ? 1 : last - first + 1;
}

static void double_check(double v)
{
	char buf[32];
	size_t n = st_double_format(v, buf);
	assert_true(n > 0 && n < sizeof(buf));
	assert_int_equal(n, strlen(buf));
	char *end = NULL;
	double back = strtod(buf, &end);
	assert_ptr_equal(end, buf + n); /* the whole text is one number */
	if (memcmp(&back, &v, sizeof(v)) != 0)
		fail_msg("%.17g -> \"%s\" -> %.17g", v, buf, back);
	/* shortest: one significant digit fewer must not read back the same */
	int p = significant_digits(buf);
	if (p > 1) {
		char shorter[400]; /* %g never needs this much; keeps -Wformat-truncation quiet */
		snprintf(shorter, sizeof(shorter), "%.*g", p - 1, v);
		if (strtod(shorter, NULL) == v)
			fail_msg("%.17g -> \"%s\" is not shortest: \"%s\" also reads back", v, buf,
				 shorter);
	}
}

static void double_round_trip(void **state)
{
	(void)state;
	static const double edges[] = {0.0,	-0.0,	 1.0,	  -1.0,	    0.5,
				       0.1,	0.2,	 0.3,	  2.5e-7,   1e-5,
				       1e15,	1e16,	 1e17,	  1e21,	    1e22,
				       DBL_MIN, DBL_MAX, 5e-324,  -DBL_MAX, 9007199254740993.0,
				       M_PI,	M_E,	 1.0 / 7, 2.0 / 3};
	for (size_t i = 0; i < ST_ARRAY_LEN(edges); i++)
		double_check(edges[i]);
	struct rng r = {12345};
	for (int i = 0; i < 100000; i++) {
		/* arbitrary bit patterns cover every exponent... */
		uint64_t bits = rng_next(&r);
		double v;
		memcpy(&v, &bits, sizeof(v));
		if (isfinite(v))
			double_check(v);
		/* ...and short decimals cover the values people actually write */
		double d = (double)(int64_t)(rng_next(&r) % 2000001 - 1000000) /
			   pow(10, (double)(rng_next(&r) % 8));
		double_check(d);
	}
}

/* ---- errors and diagnostics ------------------------------------------- */

static void strerror_own_codes(void **state)
{
	(void)state;
	static const int codes[] = {ST_E_INVALID, ST_E_NOTFOUND, ST_E_EXISTS, ST_E_LIMIT,
				    ST_E_STORE,	  ST_E_SCHEMA,	 ST_E_IO,     ST_E_VERSION,
				    ST_E_FULL,	  ST_E_BUSY};
	const char *unknown = st_strerror(ST_E_BASE);
	assert_non_null(unknown);
	for (size_t i = 0; i < ST_ARRAY_LEN(codes); i++) {
		const char *m = st_strerror(codes[i]);
		assert_non_null(m);
		assert_true(m[0] != '\0');
		if (strcmp(m, unknown) == 0)
			fail_msg("code %d has no name", codes[i]);
		for (size_t j = 0; j < i; j++)
			if (strcmp(m, st_strerror(codes[j])) == 0)
				fail_msg("codes %d and %d share \"%s\"", codes[i], codes[j], m);
		/* own codes must not collide with errno values */
		assert_true(codes[i] <= -4096);
	}
	assert_string_equal(st_strerror(0), "success");
	assert_string_equal(st_strerror(ST_E_LIMIT), "limit exceeded");
}

static void strerror_errno_and_unknown(void **state)
{
	(void)state;
	assert_string_equal(st_strerror(-ENOENT), strerror(ENOENT));
	assert_string_equal(st_strerror(-ENOMEM), strerror(ENOMEM));
	assert_string_equal(st_strerror(-EINVAL), strerror(EINVAL));
	const char *unknown = st_strerror(ST_E_BASE);
	assert_string_equal(unknown, "unknown error");
	assert_string_equal(st_strerror(1), unknown);
	assert_string_equal(st_strerror(-4096), unknown);
	assert_string_equal(st_strerror(-30000), unknown);
	assert_string_equal(st_strerror(INT32_MIN), unknown);
}

static void diag_set_and_prefix(void **state)
{
	(void)state;
	st_diag d;
	memset(&d, 'X', sizeof(d));
	int rc = st_diag_set(&d, ST_E_INVALID, "unknown node type \"%s\"", "Servcie");
	assert_int_equal(rc, ST_E_INVALID);
	assert_string_equal(d.msg, "unknown node type \"Servcie\"");
	st_diag_prefix(&d, "%s:%d", "nodes.jsonl", 12);
	assert_string_equal(d.msg, "nodes.jsonl:12: unknown node type \"Servcie\"");
	st_diag_prefix(&d, "import");
	assert_string_equal(d.msg, "import: nodes.jsonl:12: unknown node type \"Servcie\"");
	/* a later set replaces the message */
	assert_int_equal(st_diag_set(&d, -ENOENT, "%s", "gone"), -ENOENT);
	assert_string_equal(d.msg, "gone");
}

static void diag_null_is_allowed(void **state)
{
	(void)state;
	/* callers that do not want a message pass NULL and still get the code */
	assert_int_equal(st_diag_set(NULL, ST_E_LIMIT, "too many %d", 3), ST_E_LIMIT);
	assert_int_equal(st_diag_set(NULL, 0, "ok"), 0);
	st_diag_prefix(NULL, "ignored %s", "prefix");
}

static void diag_truncates_long_messages(void **state)
{
	(void)state;
	char big[3 * ST_DIAG_MAX];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	st_diag d;
	assert_int_equal(st_diag_set(&d, ST_E_IO, "%s", big), ST_E_IO);
	assert_int_equal(strlen(d.msg), ST_DIAG_MAX - 1);
	st_diag_prefix(&d, "file.yaml:%d:%d", 3, 7);
	assert_int_equal(strlen(d.msg), ST_DIAG_MAX - 1);
	assert_memory_equal(d.msg, "file.yaml:3:7: aaa", 18);
	/* a prefix longer than the whole buffer still leaves a terminated string */
	st_diag_prefix(&d, "%s", big);
	assert_int_equal(strlen(d.msg), ST_DIAG_MAX - 1);
	assert_int_equal(d.msg[0], 'a');
}

/* ---- allocation -------------------------------------------------------- */

static void xalloc_helpers(void **state)
{
	(void)state;
	void *z = st_xmalloc(0);
	assert_non_null(z);
	free(z);
	unsigned char *c = st_xcalloc(64, 4);
	for (size_t i = 0; i < 256; i++)
		assert_int_equal(c[i], 0);
	memset(c, 7, 256);
	c = st_xrealloc(c, 4096);
	assert_int_equal(c[255], 7);
	free(c);
	{
		_cleanup_free_ char *s = st_xstrndup("payments-api/extra", 12);
		assert_string_equal(s, "payments-api");
		assert_int_equal(strlen(s), 12);
	}
	_cleanup_free_ char *e = st_xstrndup("x", 0);
	assert_string_equal(e, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(day_parse_known),
		cmocka_unit_test(day_parse_leap_years),
		cmocka_unit_test(day_parse_month_lengths),
		cmocka_unit_test(day_parse_rejects_bad_formats),
		cmocka_unit_test(day_parse_honours_len),
		cmocka_unit_test(day_format_known),
		cmocka_unit_test(day_round_trip_all),
		cmocka_unit_test(money_parse_known),
		cmocka_unit_test(money_parse_rejects_invalid),
		cmocka_unit_test(money_parse_rejects_excess_precision),
		cmocka_unit_test(money_parse_rejects_overflow),
		cmocka_unit_test(money_parse_honours_len),
		cmocka_unit_test(money_format_known),
		cmocka_unit_test(money_round_trip),
		cmocka_unit_test(money_text_canonicalises),
		cmocka_unit_test(currency_known),
		cmocka_unit_test(currency_rejects_invalid),
		cmocka_unit_test(currency_round_trip_all),
		cmocka_unit_test(double_format_known),
		cmocka_unit_test(double_format_integers_plain),
		cmocka_unit_test(double_round_trip),
		cmocka_unit_test(strerror_own_codes),
		cmocka_unit_test(strerror_errno_and_unknown),
		cmocka_unit_test(diag_set_and_prefix),
		cmocka_unit_test(diag_null_is_allowed),
		cmocka_unit_test(diag_truncates_long_messages),
		cmocka_unit_test(xalloc_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
