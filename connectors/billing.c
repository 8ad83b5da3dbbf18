/*
 * billing.c — the billing export connectors (docs/connectors.md, "Billing
 * (FOCUS, AWS CUR, GCP)"): kinds `focus`, `cur` and `gcp-billing`.
 *
 * A source is one CSV file (plain or gzip, told apart by its magic bytes) or
 * a directory of them (*.csv, *.csv.gz, read in name order as one sync).
 * Each file is streamed through a fixed-size read buffer into our own RFC
 * 4180 parser (quotes, doubled quotes, embedded newlines, CRLF, a UTF-8 BOM);
 * only the columns the format needs are copied out of a record.  Every row
 * adds its billed and effective amounts to one (resource, day, currency)
 * cell; amounts are exact decimals held as 128-bit integers in units of
 * 1e-18, so hourly rows with 10-19 fractional digits sum without loss and
 * are rounded once per fact to the store's micro-units.  Memory grows with
 * the number of distinct resources and (resource, day, currency) keys, never
 * with the size of the input.
 *
 * At the end come one BillingResource node per resource (`bill:<provider>/
 * <resource id>`, or `bill:<provider>/service/<service>` for the rows that
 * name no resource), its identity hints (tags -> service/team, resource id ->
 * cloud id) and one cost fact per key.  A malformed row fails the run with
 * its file and line, or with option `on_error: skip` is counted, reported
 * (the first few) and left out.
 *
 * No floating point touches money here.  Like every connector it does not log
 * and never touches the store.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "connector.h"
#include "props.h"

#define READ_CHUNK (1u << 20)	  /* bytes per read() and per inflate output */
#define MAX_RECORD (1u << 20)	  /* bytes of the kept fields of one record */
#define MAX_COLUMNS 4096	  /* header fields */
#define MAX_FILES 10000		  /* files in a directory source */
#define MAX_VALUE 1024		  /* a kept property, tag key or tag value */
#define MAX_TAGS_CELL (64u << 10) /* a Tags / labels cell that is kept */
#define MAX_TAGS 256		  /* labels kept per resource */
#define MAX_RESOURCES 5000000u	  /* distinct resources per run */
#define MAX_KEYS 50000000u	  /* distinct (resource, day, currency) keys */
#define MAX_REPORTED 10		  /* skipped rows reported one by one */
#define PROGRESS_EVERY (16u << 20)
#define JSON_DEPTH 32

/* Amounts: 128-bit integers in units of 1e-18 of the currency. */
typedef __int128 amount;
#define AMT_SCALE_EXP 18
#define AMT_TO_MICRO 1000000000000LL /* 1e-18 -> 1e-6 */
#define AMT_CELL_MAX ((amount)1000000000000000LL * (amount)1000000000000000000LL)
/* = 1e15 currency units: a larger single amount is refused */

/* A remark that does not make the source's facts doubtful (connector.h). */
static void note(st_sink *sink, st_loc loc, const char *msg)
{
	if (sink->note)
		sink->note(sink, loc, msg);
	else
		sink->warn(sink, loc, msg);
}

typedef struct span {
	const char *p;
	size_t n;
} span;

static bool span_eq(span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && !memcmp(s.p, lit, n);
}

static bool span_ieq(span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && !strncasecmp(s.p, lit, n);
}

static span trim(span s)
{
	while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.n--;
	}
	while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

/* ---------------------------------------------------------------------------
 * Exact decimal amounts.
 *
 * Grammar: [+-] digits [. digits] [(e|E) [+-] digits], or [+-] . digits; at
 * least one mantissa digit; surrounding blanks are ignored.  The value is
 * held in units of 1e-18 (digits further right are rounded half to even:
 * real exports carry at most 19 fractional digits).  |value| <= 1e15 units.
 * st_money_parse is not used here because it refuses more than 6 fractional
 * digits, which every real export has (FOCUS 11, CUR up to 19). */
static const amount pow10_tab[] = {
	(amount)1LL,
	(amount)10LL,
	(amount)100LL,
	(amount)1000LL,
	(amount)10000LL,
	(amount)100000LL,
	(amount)1000000LL,
	(amount)10000000LL,
	(amount)100000000LL,
	(amount)1000000000LL,
	(amount)10000000000LL,
	(amount)100000000000LL,
	(amount)1000000000000LL,
	(amount)10000000000000LL,
	(amount)100000000000000LL,
	(amount)1000000000000000LL,
	(amount)10000000000000000LL,
	(amount)100000000000000000LL,
	(amount)1000000000000000000LL,
};

static amount pow10a(int e)
{
	amount r = 1;
	while (e >= 18) {
		r *= pow10_tab[18];
		e -= 18;
	}
	return r * pow10_tab[e];
}

/* 0, or ST_E_INVALID (not a number) / ST_E_LIMIT (out of range). */
static int parse_amount(const char *s0, size_t n0, amount *ret)
{
	span t = trim((span){s0, n0});
	const char *s = t.p;
	size_t n = t.n, i = 0;
	bool neg = false;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	amount m = 0;
	int frac = 0, dropped = 0, ndig = 0;
	bool in_frac = false, sticky = false;
	const amount full = (amount)100000000000000000LL * (amount)1000000000000000000LL; /* 1e35 */
	for (; i < n; i++) {
		char ch = s[i];
		if (ch == '.' && !in_frac) {
			in_frac = true;
			continue;
		}
		if (ch < '0' || ch > '9')
			break;
		ndig++;
		if (in_frac)
			frac++;
		if (m >= full) {
			dropped++;
			if (ch != '0')
				sticky = true;
		} else {
			m = m * 10 + (ch - '0');
		}
	}
	if (!ndig)
		return ST_E_INVALID;
	long exp = 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		bool eneg = false;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			eneg = s[i++] == '-';
		size_t es = i;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (exp < 100000)
				exp = exp * 10 + (s[i] - '0');
			i++;
		}
		if (i == es)
			return ST_E_INVALID;
		if (eneg)
			exp = -exp;
	}
	if (i != n)
		return ST_E_INVALID;
	long e = (long)dropped + exp - frac + AMT_SCALE_EXP;
	amount v;
	if (m == 0) {
		v = 0;
	} else if (e >= 0) {
		if (e > 33 || m > AMT_CELL_MAX / pow10a((int)e))
			return ST_E_LIMIT;
		v = m * pow10a((int)e);
	} else if (e < -36) {
		v = 0; /* far below 1e-18 */
	} else {
		amount d = pow10a((int)-e), q = m / d, r = m % d, half = d / 2;
		if (r > half || (r == half && (sticky || (q & 1))))
			q++;
		v = q;
	}
	if (v > AMT_CELL_MAX)
		return ST_E_LIMIT;
	*ret = neg ? -v : v;
	return 0;
}

/* Round 1e-18 units to micro-units, half away from zero. */
static bool amount_to_micros(amount v, int64_t *ret)
{
	bool neg = v < 0;
	amount a = neg ? -v : v;
	amount q = a / AMT_TO_MICRO, r = a % AMT_TO_MICRO;
	if (2 * r >= AMT_TO_MICRO)
		q++;
	if (q > INT64_MAX)
		return false;
	*ret = neg ? -(int64_t)q : (int64_t)q;
	return true;
}

/* ---------------------------------------------------------------------------
 * Dates: the UTC day of "YYYY-MM-DD" optionally followed by [T ]HH:MM[:SS[.f]]
 * and a zone (Z, UTC, +HH:MM, +HHMM, +HH; none means UTC). */
static int two(const char *s, int *v)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	*v = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

static int parse_day(const char *s0, size_t n0, int32_t *ret)
{
	span t = trim((span){s0, n0});
	const char *s = t.p;
	size_t n = t.n;
	int32_t day;
	if (n < 10 || st_day_parse(s, 10, &day) < 0)
		return ST_E_INVALID;
	if (n == 10) {
		*ret = day;
		return 0;
	}
	size_t i = 10;
	if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
		return ST_E_INVALID;
	i++;
	int hh, mm, ss = 0;
	if (i + 5 > n || two(s + i, &hh) || s[i + 2] != ':' || two(s + i + 3, &mm))
		return ST_E_INVALID;
	i += 5;
	if (i + 3 <= n && s[i] == ':') {
		if (two(s + i + 1, &ss))
			return ST_E_INVALID;
		i += 3;
		if (i < n && (s[i] == '.' || s[i] == ',')) {
			size_t fs = ++i;
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
			if (i == fs)
				return ST_E_INVALID;
		}
	}
	if (hh > 23 || mm > 59 || ss > 60)
		return ST_E_INVALID;
	while (i < n && s[i] == ' ')
		i++;
	long off = 0;
	if (i == n) {
		/* no zone: UTC */
	} else if (n - i == 1 && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (n - i == 3 && !strncasecmp(s + i, "UTC", 3)) {
		i += 3;
	} else if (s[i] == '+' || s[i] == '-') {
		int sign = s[i] == '-' ? -1 : 1, oh, om = 0;
		i++;
		if (i + 2 > n || two(s + i, &oh))
			return ST_E_INVALID;
		i += 2;
		if (i < n && s[i] == ':')
			i++;
		if (i + 2 <= n) {
			if (two(s + i, &om))
				return ST_E_INVALID;
			i += 2;
		}
		if (i != n || oh > 23 || om > 59)
			return ST_E_INVALID;
		off = sign * (oh * 3600L + om * 60L);
	} else {
		return ST_E_INVALID;
	}
	long secs = hh * 3600L + mm * 60L + ss - off;
	if (secs < 0)
		day--;
	else if (secs >= 86400)
		day++;
	if (day < 0 || day > 2932896)
		return ST_E_INVALID;
	*ret = day;
	return 0;
}

/* ---------------------------------------------------------------------------
 * A tolerant reader for the JSON-ish cells: FOCUS `Tags` ({"k":"v"}; also
 * without the outer braces, as Azure EA exports write them), GCP `labels`
 * ([{"key":..,"value":..}]) and `credits` ([{"name":..,"amount":..}]).  It
 * also takes Python literals (single quotes, None/True/False), which some
 * BigQuery-to-CSV pipelines write.  Unescaped strings go to x->o, which the
 * caller sizes to the input length, so returned spans stay valid. */
typedef struct jx {
	const char *p, *e;
	char *o;
	int depth;
} jx;

static void jws(jx *x)
{
	while (x->p < x->e && (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r'))
		x->p++;
}

static int hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool jhex4(jx *x, unsigned *cp)
{
	if (x->e - x->p < 4)
		return false;
	unsigned v = 0;
	for (int k = 0; k < 4; k++) {
		int h = hexv(x->p[k]);
		if (h < 0)
			return false;
		v = v * 16 + (unsigned)h;
	}
	x->p += 4;
	*cp = v;
	return true;
}

static void put_utf8(jx *x, unsigned cp)
{
	if (cp < 0x80) {
		*x->o++ = (char)cp;
	} else if (cp < 0x800) {
		*x->o++ = (char)(0xC0 | (cp >> 6));
		*x->o++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*x->o++ = (char)(0xE0 | (cp >> 12));
		*x->o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*x->o++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*x->o++ = (char)(0xF0 | (cp >> 18));
		*x->o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*x->o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*x->o++ = (char)(0x80 | (cp & 0x3F));
	}
}

/* A quoted string at x->p ('"' or '\''). */
static bool jstr(jx *x, span *out)
{
	char q = *x->p++;
	char *start = x->o;
	while (x->p < x->e) {
		char ch = *x->p++;
		if (ch == q) {
			*out = (span){start, (size_t)(x->o - start)};
			return true;
		}
		if (ch != '\\') {
			*x->o++ = ch;
			continue;
		}
		if (x->p >= x->e)
			return false;
		ch = *x->p++;
		switch (ch) {
		case 'n': *x->o++ = '\n'; break;
		case 't': *x->o++ = '\t'; break;
		case 'r': *x->o++ = '\r'; break;
		case 'b': *x->o++ = '\b'; break;
		case 'f': *x->o++ = '\f'; break;
		case 'u': {
			unsigned cp;
			if (!jhex4(x, &cp))
				return false;
			if (cp >= 0xD800 && cp < 0xDC00 && x->e - x->p >= 6 && x->p[0] == '\\' &&
			    x->p[1] == 'u') {
				const char *save = x->p;
				unsigned lo;
				x->p += 2;
				if (jhex4(x, &lo) && lo >= 0xDC00 && lo < 0xE000)
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				else
					x->p = save;
			}
			if (cp >= 0xD800 && cp < 0xE000)
				cp = 0xFFFD; /* a lone surrogate */
			put_utf8(x, cp);
			break;
		}
		default: *x->o++ = ch; break; /* \" \\ \/ \' */
		}
	}
	return false;
}

enum { J_ERR = -1, J_NULL = 0, J_SCALAR = 1, J_CONTAINER = 2 };

static bool jskip(jx *x);

/* One value: a string or bare token as text (J_SCALAR), null/None
 * (J_NULL), or an object/array, skipped (J_CONTAINER). */
static int jscalar(jx *x, span *out)
{
	jws(x);
	if (x->p >= x->e)
		return J_ERR;
	char ch = *x->p;
	if (ch == '"' || ch == '\'')
		return jstr(x, out) ? J_SCALAR : J_ERR;
	if (ch == '{' || ch == '[')
		return jskip(x) ? J_CONTAINER : J_ERR;
	const char *b = x->p;
	while (x->p < x->e && !strchr(",]}: \t\r\n", *x->p))
		x->p++;
	span tok = {b, (size_t)(x->p - b)};
	if (!tok.n)
		return J_ERR;
	if (span_eq(tok, "null") || span_eq(tok, "None"))
		return J_NULL;
	if (span_eq(tok, "True"))
		tok = (span){"true", 4};
	else if (span_eq(tok, "False"))
		tok = (span){"false", 5};
	*out = tok;
	return J_SCALAR;
}

typedef int (*jmember_fn)(void *ctx, span key, jx *x);

/* The members of an object at x->p; with braced false the text is the
 * inside of an object without its braces.  fn consumes each value. */
static bool jobject(jx *x, bool braced, jmember_fn fn, void *ctx)
{
	jws(x);
	if (braced) {
		if (x->p >= x->e || *x->p != '{')
			return false;
		x->p++;
	}
	if (++x->depth > JSON_DEPTH)
		return false;
	jws(x);
	if (braced && x->p < x->e && *x->p == '}') {
		x->p++;
		x->depth--;
		return true;
	}
	if (!braced && x->p >= x->e) {
		x->depth--;
		return true;
	}
	for (;;) {
		jws(x);
		span key;
		if (x->p >= x->e || (*x->p != '"' && *x->p != '\'') || !jstr(x, &key))
			return false;
		jws(x);
		if (x->p >= x->e || *x->p != ':')
			return false;
		x->p++;
		if (fn(ctx, key, x) < 0)
			return false;
		jws(x);
		if (x->p < x->e && *x->p == ',') {
			x->p++;
			continue;
		}
		if (braced) {
			if (x->p >= x->e || *x->p != '}')
				return false;
			x->p++;
		} else if (x->p != x->e) {
			return false;
		}
		x->depth--;
		return true;
	}
}

static int skip_member(void *ctx, span key, jx *x)
{
	(void)ctx, (void)key;
	return jskip(x) ? 0 : -1;
}

/* The elements of an array at x->p, each passed to el. */
static bool jarray(jx *x, bool (*el)(void *ctx, jx *x), void *ctx)
{
	jws(x);
	if (x->p >= x->e || *x->p != '[')
		return false;
	x->p++;
	if (++x->depth > JSON_DEPTH)
		return false;
	jws(x);
	if (x->p < x->e && *x->p == ']') {
		x->p++;
		x->depth--;
		return true;
	}
	for (;;) {
		if (!el(ctx, x))
			return false;
		jws(x);
		if (x->p < x->e && *x->p == ',') {
			x->p++;
			continue;
		}
		if (x->p >= x->e || *x->p != ']')
			return false;
		x->p++;
		x->depth--;
		return true;
	}
}

static bool skip_el(void *ctx, jx *x)
{
	(void)ctx;
	return jskip(x);
}

static bool jskip(jx *x)
{
	jws(x);
	if (x->p >= x->e)
		return false;
	if (*x->p == '{')
		return jobject(x, true, skip_member, NULL);
	if (*x->p == '[')
		return jarray(x, skip_el, NULL);
	span s;
	return jscalar(x, &s) >= 0;
}

/* ---------------------------------------------------------------------------
 * Formats: which header names feed which role. */
typedef enum fmt { F_FOCUS, F_CUR, F_GCP } fmt;

enum role {
	R_BILLED,
	R_EFFECTIVE,
	R_CURRENCY,
	R_START,
	R_RESID,
	R_RESID2,
	R_NAME,
	R_SERVICE,
	R_SERVICE2,
	R_PROVIDER,
	R_PROVIDER2,
	R_PROVIDER3,
	R_REGION,
	R_REGION2,
	R_ACCOUNT,
	R_TAGS,
	R_LABELS,
	R_LITYPE,
	R_SP_EFF,
	R_SP_TOTAL,
	R_SP_USED,
	R_RI_EFF,
	R_RI_UPFRONT,
	R_RI_RECURRING,
	R_RI_ARN,
	R_CREDITS,
	R_CREDIT_AMOUNT,
	N_ROLES
};

typedef struct coldef {
	int role;
	bool required;
	const char *names; /* '|'-separated, preferred first; matched case-insensitively */
} coldef;

static const coldef focus_cols[] = {
	{R_BILLED, true, "BilledCost"},
	{R_EFFECTIVE, true, "EffectiveCost|AmortizedCost"},
	{R_CURRENCY, true, "BillingCurrency"},
	{R_START, true, "ChargePeriodStart"},
	{R_RESID, true, "ResourceId"},
	{R_NAME, false, "ResourceName"},
	{R_SERVICE, true, "ServiceName"},
	{R_PROVIDER, false, "ServiceProviderName|ProviderName|Provider"},
	{R_PROVIDER2, false, "PublisherName|Publisher"},
	{R_PROVIDER3, false, "InvoiceIssuerName|InvoiceIssuer"},
	{R_REGION, false, "RegionId|Region"},
	{R_REGION2, false, "RegionName"},
	{R_ACCOUNT, false, "SubAccountId"},
	{R_TAGS, false, "Tags"},
	{-1, false, NULL},
};

static const coldef cur_cols[] = {
	{R_BILLED, true, "lineItem/UnblendedCost|line_item_unblended_cost"},
	{R_EFFECTIVE, false, "lineItem/NetUnblendedCost|line_item_net_unblended_cost"},
	{R_CURRENCY, true, "lineItem/CurrencyCode|line_item_currency_code"},
	{R_START, true, "lineItem/UsageStartDate|line_item_usage_start_date"},
	{R_RESID, false, "lineItem/ResourceId|line_item_resource_id"},
	{R_SERVICE, false, "product/ProductName|product_product_name"},
	{R_SERVICE2, false, "lineItem/ProductCode|line_item_product_code"},
	{R_REGION, false, "product/region|product_region"},
	{R_ACCOUNT, false, "lineItem/UsageAccountId|line_item_usage_account_id"},
	{R_LITYPE, false, "lineItem/LineItemType|line_item_line_item_type"},
	{R_SP_EFF, false,
	 "savingsPlan/NetSavingsPlanEffectiveCost|savings_plan_net_savings_plan_effective_cost|"
	 "savingsPlan/SavingsPlanEffectiveCost|savings_plan_savings_plan_effective_cost"},
	{R_SP_TOTAL, false,
	 "savingsPlan/TotalCommitmentToDate|savings_plan_total_commitment_to_date"},
	{R_SP_USED, false, "savingsPlan/UsedCommitment|savings_plan_used_commitment"},
	{R_RI_EFF, false,
	 "reservation/NetEffectiveCost|reservation_net_effective_cost|reservation/EffectiveCost|"
	 "reservation_effective_cost"},
	{R_RI_UPFRONT, false,
	 "reservation/NetUnusedAmortizedUpfrontFeeForBillingPeriod|"
	 "reservation_net_unused_amortized_upfront_fee_for_billing_period|"
	 "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod|"
	 "reservation_unused_amortized_upfront_fee_for_billing_period"},
	{R_RI_RECURRING, false,
	 "reservation/NetUnusedRecurringFee|reservation_net_unused_recurring_fee|"
	 "reservation/UnusedRecurringFee|reservation_unused_recurring_fee"},
	{R_RI_ARN, false, "reservation/ReservationARN|reservation_reservation_a_r_n"},
	{-1, false, NULL},
};

static const coldef gcp_cols[] = {
	{R_BILLED, true, "cost"},
	{R_CURRENCY, true, "currency"},
	{R_START, true, "usage_start_time"},
	{R_RESID, false, "resource.global_name"},
	{R_RESID2, false, "resource.name"},
	{R_NAME, false, "resource.name"},
	{R_SERVICE, false, "service.description"},
	{R_REGION, false, "location.region"},
	{R_REGION2, false, "location.location"},
	{R_ACCOUNT, false, "project.id"},
	{R_LABELS, false, "labels"},
	{R_CREDITS, false, "credits"},
	{R_CREDIT_AMOUNT, false, "credits.amount|credits_amount"},
	{-1, false, NULL},
};

/* Prefixes of per-tag columns; the rest of the header is the tag key. */
static const char *const cur_tag_prefixes[] = {"resourceTags/user:", "resource_tags_user_", NULL};
static const char *const gcp_tag_prefixes[] = {"labels.", NULL};

typedef struct tagcol {
	uint32_t col;
	char *key;
	size_t klen;
} tagcol;

/* ---------------------------------------------------------------------------
 * State of one run. */
typedef struct res {
	uint64_t hash;
	char *id; /* "bill:<provider>/<resource id>" or ".../service/<name>" */
	uint32_t idlen;
	uint32_t pfx;		     /* bytes of "bill:<provider>/" */
	bool bucket;		     /* a service bucket (rows without a resource id) */
	bool too_long;		     /* a value was not kept (over MAX_VALUE / MAX_TAGS_CELL) */
	int32_t day;		     /* latest charge day seen; props come from it */
	int32_t tag_day;	     /* charge day of the kept tags */
	uint32_t file, line;	     /* first row */
	uint32_t tag_file, tag_line; /* row of the kept tags */
	char *service, *region, *account, *name;
	char *tags_json; /* Tags / labels cell as written */
	char *tags_kv;	 /* per-tag columns: key \0 value \0 ... */
	uint32_t tags_json_len, tags_kv_len;
	char tags_json_kind; /* 'o' object (FOCUS Tags), 'a' GCP key/value array */
} res;

typedef struct cent {
	amount billed, eff;
	uint32_t res;
	int32_t day;
	uint32_t file, line; /* first row */
	uint16_t cur;
} cent;

enum cstate { S_START, S_PLAIN, S_QUOTED, S_QQ, S_AFTER_CR, S_SKIP };

typedef struct bp {
	const st_source *src;
	st_sink *sink;
	st_diag *diag;
	fmt f;
	bool skip_bad;

	char **origins; /* "<source>:<file>" */
	size_t n_files;
	uint32_t cur_file;

	/* the current file's columns */
	bool header;
	uint32_t ncols;
	int role_col[N_ROLES];
	char *role_name[N_ROLES];
	tagcol *tagcols;
	size_t n_tagcols;
	bool want[MAX_COLUMNS + 1];

	/* CSV parser */
	enum cstate state;
	uint32_t line, rec_line, col;
	bool rec_started, cur_want, over, at_start;
	const char *err;
	char *rec;
	size_t len, cap;
	uint32_t fstart[MAX_COLUMNS + 1], flen[MAX_COLUMNS + 1];

	/* aggregation */
	res *res;
	size_t n_res, cap_res;
	uint32_t *rslots;
	size_t n_rslots;
	cent *ents;
	size_t n_ents, cap_ents;
	uint32_t *eslots;
	size_t n_eslots;
	uint32_t last_res, last_ent; /* index + 1, 0 none */

	/* per-row caches */
	char last_cur[8];
	size_t last_cur_len;
	uint16_t last_cur_code;
	char last_date[48];
	size_t last_date_len;
	int32_t last_day;
	char last_prov_raw[64], prov[64];
	size_t last_prov_raw_len, prov_len;
	bool prov_cached;

	char idbuf[ST_NODE_ID_MAX + 1];
	char *scratch;
	size_t scratch_cap;

	uint64_t rows, skipped;
	uint32_t skip_file, skip_line;
	uint64_t bytes_done, bytes_total, next_progress;
	int rc; /* a fatal error raised inside the parser callbacks */
} bp;

static const char *fmt_kind(fmt f)
{
	return f == F_FOCUS ? "focus" : f == F_CUR ? "cur" : "gcp-billing";
}

/* A cell for messages: at most 40 bytes, control characters as '?'. */
static const char *show(span s, char buf[64])
{
	size_t n = s.n > 40 ? 40 : s.n, k = 0;
	for (size_t i = 0; i < n; i++)
		buf[k++] = (unsigned char)s.p[i] < 0x20 ? '?' : s.p[i];
	if (s.n > 40) {
		memcpy(buf + k, "...", 3);
		k += 3;
	}
	buf[k] = 0;
	return buf;
}

/* A malformed row: fails the run (on_error: fail) or is counted and, the
 * first MAX_REPORTED times, reported (on_error: skip).  Returns <0 to stop. */
__attribute__((format(printf, 2, 3))) static int row_error(bp *p, const char *format, ...)
{
	char msg[700];
	va_list ap;
	va_start(ap, format);
	vsnprintf(msg, sizeof(msg), format, ap);
	va_end(ap);
	st_loc loc = {p->origins[p->cur_file], p->rec_line};
	if (!p->skip_bad)
		return st_diag_set(p->diag, ST_E_INVALID, "%s:%u: %s", loc.origin, loc.line, msg);
	if (p->skipped++ == 0) {
		p->skip_file = p->cur_file;
		p->skip_line = p->rec_line;
	}
	if (p->skipped <= MAX_REPORTED) {
		char buf[800];
		snprintf(buf, sizeof(buf), "malformed row skipped: %s", msg);
		note(p->sink, loc, buf);
	}
	return 0;
}

static span cell(const bp *p, int role)
{
	int c = p->role_col[role];
	if (c < 0)
		return (span){"", 0};
	span s = {p->rec + p->fstart[c], p->flen[c]};
	if (s.n == 4 && (!memcmp(s.p, "NULL", 4) || !memcmp(s.p, "null", 4)))
		s.n = 0;
	return s;
}

static bool has(const bp *p, int role)
{
	return p->role_col[role] >= 0;
}

/* An amount cell (empty or NULL: 0); reports the row on failure. */
static int cell_amount(bp *p, int role, amount *ret, bool *bad)
{
	span s = cell(p, role);
	*ret = 0;
	if (!trim(s).n)
		return 0;
	int rc = parse_amount(s.p, s.n, ret);
	if (rc == 0)
		return 0;
	char b[64];
	*bad = true;
	return row_error(p, "%s: '%s' is %s", p->role_name[role], show(s, b),
			 rc == ST_E_LIMIT ? "out of range (|amount| <= 1e15)" : "not a number");
}

/* ---------------------------------------------------------------------------
 * Hash tables (open addressing, index + 1 in the slots). */
static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0x100000001b3ULL);
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
		s += 8;
		n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0x100000001b3ULL;
	return mix64(h);
}

static uint64_t cent_hash(uint32_t r, int32_t day, uint16_t cur)
{
	return mix64(((uint64_t)r << 32 | (uint32_t)day) ^ ((uint64_t)cur << 48) ^
		     ((uint64_t)cur * 0x9E3779B97F4A7C15ULL));
}

static void rslots_grow(bp *p)
{
	size_t n = p->n_rslots ? p->n_rslots * 2 : 1024;
	free(p->rslots);
	p->rslots = st_xcalloc(n, sizeof(uint32_t));
	p->n_rslots = n;
	for (size_t i = 0; i < p->n_res; i++) {
		size_t k = p->res[i].hash & (n - 1);
		while (p->rslots[k])
			k = (k + 1) & (n - 1);
		p->rslots[k] = (uint32_t)i + 1;
	}
}

static void eslots_grow(bp *p)
{
	size_t n = p->n_eslots ? p->n_eslots * 2 : 4096;
	free(p->eslots);
	p->eslots = st_xcalloc(n, sizeof(uint32_t));
	p->n_eslots = n;
	for (size_t i = 0; i < p->n_ents; i++) {
		const cent *e = &p->ents[i];
		size_t k = cent_hash(e->res, e->day, e->cur) & (n - 1);
		while (p->eslots[k])
			k = (k + 1) & (n - 1);
		p->eslots[k] = (uint32_t)i + 1;
	}
}

static char *dupspan(span s)
{
	return st_xstrndup(s.p, s.n);
}

/* The resource of id (created when new); NULL with p->rc set on a limit. */
static res *find_res(bp *p, const char *id, size_t idlen, size_t pfx, bool bucket)
{
	if (p->last_res) {
		res *r = &p->res[p->last_res - 1];
		if (r->idlen == idlen && !memcmp(r->id, id, idlen))
			return r;
	}
	uint64_t h = hash_bytes(id, idlen);
	if (p->n_res * 2 >= p->n_rslots)
		rslots_grow(p);
	size_t k = h & (p->n_rslots - 1);
	while (p->rslots[k]) {
		res *r = &p->res[p->rslots[k] - 1];
		if (r->hash == h && r->idlen == idlen && !memcmp(r->id, id, idlen)) {
			p->last_res = p->rslots[k];
			return r;
		}
		k = (k + 1) & (p->n_rslots - 1);
	}
	if (p->n_res >= MAX_RESOURCES) {
		p->rc = st_diag_set(p->diag, ST_E_LIMIT, "%s:%u: more than %u distinct resources",
				    p->origins[p->cur_file], p->rec_line, MAX_RESOURCES);
		return NULL;
	}
	if (p->n_res == p->cap_res) {
		p->cap_res = p->cap_res ? p->cap_res * 2 : 1024;
		p->res = st_xrealloc(p->res, p->cap_res * sizeof(res));
	}
	res *r = &p->res[p->n_res];
	memset(r, 0, sizeof(*r));
	r->hash = h;
	r->id = st_xstrndup(id, idlen);
	r->idlen = (uint32_t)idlen;
	r->pfx = (uint32_t)pfx;
	r->bucket = bucket;
	r->day = INT32_MIN;
	r->tag_day = INT32_MIN;
	r->file = p->cur_file;
	r->line = p->rec_line;
	p->rslots[k] = (uint32_t)++p->n_res;
	p->last_res = (uint32_t)p->n_res;
	return r;
}

static cent *find_cent(bp *p, uint32_t ri, int32_t day, uint16_t cur)
{
	if (p->last_ent) {
		cent *e = &p->ents[p->last_ent - 1];
		if (e->res == ri && e->day == day && e->cur == cur)
			return e;
	}
	if (p->n_ents * 2 >= p->n_eslots)
		eslots_grow(p);
	size_t k = cent_hash(ri, day, cur) & (p->n_eslots - 1);
	while (p->eslots[k]) {
		cent *e = &p->ents[p->eslots[k] - 1];
		if (e->res == ri && e->day == day && e->cur == cur) {
			p->last_ent = p->eslots[k];
			return e;
		}
		k = (k + 1) & (p->n_eslots - 1);
	}
	if (p->n_ents >= MAX_KEYS) {
		p->rc = st_diag_set(p->diag, ST_E_LIMIT,
				    "%s:%u: more than %u distinct (resource, day, currency) keys",
				    p->origins[p->cur_file], p->rec_line, MAX_KEYS);
		return NULL;
	}
	if (p->n_ents == p->cap_ents) {
		p->cap_ents = p->cap_ents ? p->cap_ents * 2 : 4096;
		p->ents = st_xrealloc(p->ents, p->cap_ents * sizeof(cent));
	}
	cent *e = &p->ents[p->n_ents];
	memset(e, 0, sizeof(*e));
	e->res = ri;
	e->day = day;
	e->cur = cur;
	e->file = p->cur_file;
	e->line = p->rec_line;
	p->eslots[k] = (uint32_t)++p->n_ents;
	p->last_ent = (uint32_t)p->n_ents;
	return e;
}

/* ---------------------------------------------------------------------------
 * Providers: FOCUS names them ("AWS", "Microsoft", "Google Cloud"); ids use
 * a short lower-case form. */
static size_t norm_provider(span raw, char out[64])
{
	size_t k = 0;
	bool dash = false;
	for (size_t i = 0; i < raw.n && k < 48; i++) {
		char ch = raw.p[i];
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
			if (dash && k)
				out[k++] = '-';
			dash = false;
			out[k++] = ch;
		} else {
			dash = true;
		}
	}
	out[k] = 0;
	static const struct {
		const char *prefix, *name;
	} known[] = {
		{"aws", "aws"},	   {"amazon", "aws"}, {"microsoft", "azure"}, {"azure", "azure"},
		{"google", "gcp"}, {"gcp", "gcp"},    {"oracle", "oracle"},   {"oci", "oracle"},
	};
	for (size_t i = 0; i < ST_ARRAY_LEN(known); i++) {
		size_t pl = strlen(known[i].prefix);
		if (k >= pl && !memcmp(out, known[i].prefix, pl) && (k == pl || out[pl] == '-')) {
			snprintf(out, 64, "%s", known[i].name);
			return strlen(out);
		}
	}
	if (!k) {
		memcpy(out, "unknown", 8);
		k = 7;
	}
	return k;
}

static span row_provider(bp *p)
{
	if (p->f == F_CUR)
		return (span){"aws", 3};
	if (p->f == F_GCP)
		return (span){"gcp", 3};
	span raw = cell(p, R_PROVIDER);
	if (!raw.n)
		raw = cell(p, R_PROVIDER2);
	if (!raw.n)
		raw = cell(p, R_PROVIDER3);
	if (p->prov_cached && raw.n == p->last_prov_raw_len &&
	    !memcmp(raw.p, p->last_prov_raw, raw.n))
		return (span){p->prov, p->prov_len};
	p->prov_len = norm_provider(raw, p->prov);
	p->prov_cached = raw.n < sizeof(p->last_prov_raw);
	if (p->prov_cached) {
		memcpy(p->last_prov_raw, raw.p, raw.n);
		p->last_prov_raw_len = raw.n;
	}
	return (span){p->prov, p->prov_len};
}

/* ---------------------------------------------------------------------------
 * Per-resource properties: the values of the latest row (by charge day,
 * file order breaking ties); an older row only fills values still empty. */
static void keep_str(res *r, char **dst, span v, bool newer)
{
	if (!v.n)
		return;
	if (v.n > MAX_VALUE) {
		r->too_long = true;
		return;
	}
	if (*dst) {
		if (!newer || (strlen(*dst) == v.n && !memcmp(*dst, v.p, v.n)))
			return;
		free(*dst);
	}
	*dst = dupspan(v);
}

static char *scratch(bp *p, size_t n)
{
	if (n + 8 > p->scratch_cap) {
		p->scratch_cap = n + 8 > 4096 ? n + 8 : 4096;
		free(p->scratch);
		p->scratch = st_xmalloc(p->scratch_cap);
	}
	return p->scratch;
}

static bool empty_json(span s)
{
	s = trim(s);
	return !s.n || span_eq(s, "[]") || span_eq(s, "{}");
}

static void keep_tags(bp *p, res *r, int32_t day)
{
	span json = {"", 0};
	char kind = 0;
	if (p->f == F_FOCUS) {
		json = cell(p, R_TAGS);
		kind = 'o';
	} else if (p->f == F_GCP) {
		json = cell(p, R_LABELS);
		kind = 'a';
	}
	if (empty_json(json))
		json.n = 0;
	size_t kvlen = 0;
	for (size_t i = 0; i < p->n_tagcols; i++) {
		uint32_t c = p->tagcols[i].col;
		if (p->flen[c])
			kvlen += p->tagcols[i].klen + p->flen[c] + 2;
	}
	if (!json.n && !kvlen)
		return;
	if (r->tags_json || r->tags_kv) {
		if (day < r->tag_day)
			return;
	}
	if (json.n > MAX_TAGS_CELL || kvlen > MAX_TAGS_CELL) {
		r->too_long = true;
		return;
	}
	r->tag_day = day;
	r->tag_file = p->cur_file;
	r->tag_line = p->rec_line;
	if (!(r->tags_json && r->tags_json_len == json.n &&
	      !memcmp(r->tags_json, json.p, json.n))) {
		free(r->tags_json);
		r->tags_json = json.n ? dupspan(json) : NULL;
		r->tags_json_len = (uint32_t)json.n;
		r->tags_json_kind = kind;
	}
	/* per-tag columns: key \0 value \0 ..., rebuilt only when they changed */
	char *kv = kvlen ? scratch(p, kvlen) : NULL, *o = kv;
	for (size_t i = 0; kvlen && i < p->n_tagcols; i++) {
		uint32_t c = p->tagcols[i].col;
		if (!p->flen[c])
			continue;
		memcpy(o, p->tagcols[i].key, p->tagcols[i].klen + 1);
		o += p->tagcols[i].klen + 1;
		memcpy(o, p->rec + p->fstart[c], p->flen[c]);
		o += p->flen[c];
		*o++ = 0;
	}
	if (r->tags_kv_len == kvlen && (!kvlen || !memcmp(r->tags_kv, kv, kvlen)))
		return;
	free(r->tags_kv);
	r->tags_kv = NULL;
	r->tags_kv_len = (uint32_t)kvlen;
	if (kvlen) {
		r->tags_kv = st_xmalloc(kvlen);
		memcpy(r->tags_kv, kv, kvlen);
	}
}

/* ---------------------------------------------------------------------------
 * GCP credits: the `amount` members of the `credits` array. */
typedef struct credit_ctx {
	amount sum;
	bool bad;
} credit_ctx;

static int credit_member(void *ctx, span key, jx *x)
{
	credit_ctx *c = ctx;
	if (!span_eq(key, "amount"))
		return jskip(x) ? 0 : -1;
	span v;
	int k = jscalar(x, &v);
	if (k == J_NULL)
		return 0;
	amount a;
	if (k != J_SCALAR || parse_amount(v.p, v.n, &a) < 0 ||
	    __builtin_add_overflow(c->sum, a, &c->sum)) {
		c->bad = true;
		return -1;
	}
	return 0;
}

static bool credit_el(void *ctx, jx *x)
{
	return jobject(x, true, credit_member, ctx);
}

/* ---------------------------------------------------------------------------
 * One data row. */
static int lineitem_is(span t, const char *name)
{
	return span_eq(t, name);
}

/* CUR effective cost: amortised as AWS defines it when the savings plan /
 * reservation columns are there, else net unblended, else unblended. */
static int cur_effective(bp *p, amount billed, amount *ret, bool *bad)
{
	amount base = billed, a, b;
	int rc;
	if (has(p, R_EFFECTIVE) && trim(cell(p, R_EFFECTIVE)).n) {
		if ((rc = cell_amount(p, R_EFFECTIVE, &base, bad)) < 0 || *bad)
			return rc;
	}
	*ret = base;
	span t = trim(cell(p, R_LITYPE));
	if (!t.n)
		return 0;
	if (has(p, R_SP_EFF)) {
		if (lineitem_is(t, "SavingsPlanCoveredUsage"))
			return cell_amount(p, R_SP_EFF, ret, bad);
		if (lineitem_is(t, "SavingsPlanNegation") ||
		    lineitem_is(t, "SavingsPlanUpfrontFee")) {
			*ret = 0;
			return 0;
		}
	}
	if (has(p, R_SP_TOTAL) && has(p, R_SP_USED) && lineitem_is(t, "SavingsPlanRecurringFee")) {
		if ((rc = cell_amount(p, R_SP_TOTAL, &a, bad)) < 0 || *bad)
			return rc;
		if ((rc = cell_amount(p, R_SP_USED, &b, bad)) < 0 || *bad)
			return rc;
		*ret = a - b;
		return 0;
	}
	if (has(p, R_RI_EFF) && lineitem_is(t, "DiscountedUsage"))
		return cell_amount(p, R_RI_EFF, ret, bad);
	if (has(p, R_RI_UPFRONT) && has(p, R_RI_RECURRING) && lineitem_is(t, "RIFee")) {
		if ((rc = cell_amount(p, R_RI_UPFRONT, &a, bad)) < 0 || *bad)
			return rc;
		if ((rc = cell_amount(p, R_RI_RECURRING, &b, bad)) < 0 || *bad)
			return rc;
		*ret = a + b;
		return 0;
	}
	if (lineitem_is(t, "Fee") && trim(cell(p, R_RI_ARN)).n)
		*ret = 0; /* an upfront reservation fee: amortised into DiscountedUsage */
	return 0;
}

static int process_row(bp *p)
{
	uint32_t nf = p->col + 1;
	char b[64];
	if (p->err)
		return row_error(p, "%s", p->err);
	if (p->over)
		return row_error(p, "row longer than %u bytes", MAX_RECORD);
	if (nf != p->ncols)
		return row_error(p, "%u fields, the header has %u", nf, p->ncols);
	/* a NUL byte in a kept cell would cut ids, properties and evidence that
	 * are used as C strings: the row is malformed */
	for (uint32_t c = 0; c < nf; c++)
		if (p->want[c] && p->flen[c] && memchr(p->rec + p->fstart[c], 0, p->flen[c]))
			return row_error(p, "column %u contains a NUL byte", c + 1);

	/* currency */
	span cs = trim(cell(p, R_CURRENCY));
	uint16_t cur;
	if (cs.n == p->last_cur_len && cs.n && !memcmp(cs.p, p->last_cur, cs.n)) {
		cur = p->last_cur_code;
	} else {
		char up[4];
		bool ok = cs.n == 3;
		for (size_t i = 0; ok && i < 3; i++)
			up[i] = (cs.p[i] >= 'a' && cs.p[i] <= 'z') ? (char)(cs.p[i] - 32) : cs.p[i];
		if (!ok || st_currency_parse(up, 3, &cur) < 0)
			return row_error(p, "%s: '%s' is not a currency code",
					 p->role_name[R_CURRENCY], show(cs, b));
		memcpy(p->last_cur, cs.p, 3);
		p->last_cur_len = 3;
		p->last_cur_code = cur;
	}

	/* day */
	span ds = cell(p, R_START);
	int32_t day;
	if (ds.n && ds.n == p->last_date_len && !memcmp(ds.p, p->last_date, ds.n)) {
		day = p->last_day;
	} else {
		if (parse_day(ds.p, ds.n, &day) < 0)
			return row_error(p, "%s: '%s' is not a date", p->role_name[R_START],
					 show(ds, b));
		if (ds.n < sizeof(p->last_date)) {
			memcpy(p->last_date, ds.p, ds.n);
			p->last_date_len = ds.n;
			p->last_day = day;
		}
	}

	/* amounts */
	amount billed, eff = 0;
	bool bad = false;
	int rc = cell_amount(p, R_BILLED, &billed, &bad);
	if (rc < 0 || bad)
		return rc;
	if (p->f == F_FOCUS) {
		rc = cell_amount(p, R_EFFECTIVE, &eff, &bad);
	} else if (p->f == F_CUR) {
		rc = cur_effective(p, billed, &eff, &bad);
	} else {
		eff = billed;
		span cr = cell(p, R_CREDITS);
		if (!empty_json(cr)) {
			credit_ctx cc = {0};
			jx x = {cr.p, cr.p + cr.n, scratch(p, cr.n), 0};
			if (!jarray(&x, credit_el, &cc) || (jws(&x), x.p != x.e)) {
				if (cc.bad)
					return row_error(p, "%s: an amount is not a number",
							 p->role_name[R_CREDITS]);
				return row_error(p, "%s: not a JSON array of credits",
						 p->role_name[R_CREDITS]);
			}
			eff += cc.sum;
		}
		if (has(p, R_CREDIT_AMOUNT)) {
			amount a;
			rc = cell_amount(p, R_CREDIT_AMOUNT, &a, &bad);
			if (rc >= 0 && !bad)
				eff += a;
		}
	}
	if (rc < 0 || bad)
		return rc;

	/* resource */
	span rid = cell(p, R_RESID);
	if (!rid.n && has(p, R_RESID2))
		rid = cell(p, R_RESID2);
	span svc = cell(p, R_SERVICE);
	if (!svc.n)
		svc = cell(p, R_SERVICE2);
	span prov = row_provider(p);
	bool bucket = rid.n == 0;
	size_t pfx = 5 + prov.n + 1;
	span tail = bucket ? (svc.n ? svc : (span){"unknown", 7}) : rid;
	/* "service/..." ids belong to the buckets: a resource id that starts
	 * with "service/" or "id/" is written behind "id/", so the two id
	 * spaces never meet */
	bool escape = !bucket && ((tail.n >= 8 && !memcmp(tail.p, "service/", 8)) ||
				  (tail.n >= 3 && !memcmp(tail.p, "id/", 3)));
	size_t idlen = pfx + (bucket ? 8 : 0) + (escape ? 3 : 0) + tail.n;
	if (idlen > ST_NODE_ID_MAX)
		return row_error(p, "a %s of %zu bytes makes a node id over %d bytes",
				 bucket ? "service name" : "resource id", tail.n, ST_NODE_ID_MAX);
	char *o = p->idbuf;
	memcpy(o, "bill:", 5);
	memcpy(o + 5, prov.p, prov.n);
	o[pfx - 1] = '/';
	o += pfx;
	if (bucket) {
		memcpy(o, "service/", 8);
		o += 8;
	} else if (escape) {
		memcpy(o, "id/", 3);
		o += 3;
	}
	memcpy(o, tail.p, tail.n);
	res *r = find_res(p, p->idbuf, idlen, pfx, bucket);
	if (!r)
		return p->rc;
	if (bucket) {
		if (!r->service)
			keep_str(r, &r->service, svc, true);
	} else {
		bool newer = day >= r->day;
		if (newer)
			r->day = day;
		keep_str(r, &r->service, svc, newer);
		span reg = cell(p, R_REGION);
		if (!reg.n)
			reg = cell(p, R_REGION2);
		keep_str(r, &r->region, reg, newer);
		keep_str(r, &r->account, cell(p, R_ACCOUNT), newer);
		keep_str(r, &r->name, cell(p, R_NAME), newer);
		keep_tags(p, r, day);
	}

	cent *e = find_cent(p, (uint32_t)(r - p->res), day, cur);
	if (!e)
		return p->rc;
	if (__builtin_add_overflow(e->billed, billed, &e->billed) ||
	    __builtin_add_overflow(e->eff, eff, &e->eff)) {
		p->rc = st_diag_set(p->diag, ST_E_LIMIT, "%s:%u: the sum for %.200s overflows",
				    p->origins[p->cur_file], p->rec_line, r->id);
		return p->rc;
	}
	p->rows++;
	return 0;
}

static void free_columns(bp *p)
{
	for (int i = 0; i < N_ROLES; i++) {
		free(p->role_name[i]);
		p->role_name[i] = NULL;
		p->role_col[i] = -1;
	}
	for (size_t i = 0; i < p->n_tagcols; i++)
		free(p->tagcols[i].key);
	free(p->tagcols);
	p->tagcols = NULL;
	p->n_tagcols = 0;
}

static int process_header(bp *p)
{
	const char *origin = p->origins[p->cur_file];
	uint32_t nf = p->col + 1;
	if (p->err)
		return st_diag_set(p->diag, ST_E_INVALID, "%s:%u: header: %s", origin, p->rec_line,
				   p->err);
	if (nf > MAX_COLUMNS || p->over)
		return st_diag_set(p->diag, ST_E_LIMIT, "%s:%u: header: more than %d columns",
				   origin, p->rec_line, MAX_COLUMNS);
	free_columns(p);
	const coldef *defs = p->f == F_FOCUS ? focus_cols : p->f == F_CUR ? cur_cols : gcp_cols;
	for (const coldef *d = defs; d->names; d++) {
		const char *a = d->names;
		while (*a && p->role_col[d->role] < 0) {
			const char *bar = strchr(a, '|');
			size_t al = bar ? (size_t)(bar - a) : strlen(a);
			for (uint32_t c = 0; c < nf; c++) {
				if (p->flen[c] == al &&
				    !strncasecmp(p->rec + p->fstart[c], a, al)) {
					p->role_col[d->role] = (int)c;
					p->role_name[d->role] =
						st_xstrndup(p->rec + p->fstart[c], al);
					break;
				}
			}
			a += al + (bar ? 1 : 0);
		}
		if (d->required && p->role_col[d->role] < 0) {
			const char *bar = strchr(d->names, '|');
			int al = bar ? (int)(bar - d->names) : (int)strlen(d->names);
			return st_diag_set(p->diag, ST_E_INVALID,
					   "%s:%u: no column %.*s (required by kind %s)", origin,
					   p->rec_line, al, d->names, fmt_kind(p->f));
		}
	}
	if (p->f == F_FOCUS && !has(p, R_PROVIDER) && !has(p, R_PROVIDER2) && !has(p, R_PROVIDER3))
		return st_diag_set(p->diag, ST_E_INVALID,
				   "%s:%u: no column ProviderName (or PublisherName, "
				   "InvoiceIssuerName; required by kind focus)",
				   origin, p->rec_line);
	const char *const *prefixes = p->f == F_CUR ? cur_tag_prefixes :
				      p->f == F_GCP ? gcp_tag_prefixes :
						      NULL;
	for (uint32_t c = 0; prefixes && c < nf; c++) {
		for (const char *const *pre = prefixes; *pre; pre++) {
			size_t pl = strlen(*pre);
			if (p->flen[c] > pl && p->flen[c] - pl <= MAX_VALUE &&
			    !strncasecmp(p->rec + p->fstart[c], *pre, pl)) {
				p->tagcols = st_xrealloc(p->tagcols,
							 (p->n_tagcols + 1) * sizeof(tagcol));
				tagcol *t = &p->tagcols[p->n_tagcols++];
				t->col = c;
				t->klen = p->flen[c] - pl;
				t->key = st_xstrndup(p->rec + p->fstart[c] + pl, t->klen);
				break;
			}
		}
	}
	memset(p->want, 0, sizeof(p->want));
	for (int i = 0; i < N_ROLES; i++)
		if (p->role_col[i] >= 0)
			p->want[p->role_col[i]] = true;
	for (size_t i = 0; i < p->n_tagcols; i++)
		p->want[p->tagcols[i].col] = true;
	p->ncols = nf;
	p->header = false;
	p->last_res = 0;
	p->last_ent = 0;
	return 0;
}

/* ---------------------------------------------------------------------------
 * The CSV parser (RFC 4180).  Only wanted fields are copied into p->rec; a
 * record is handed over when its terminating newline (or the end of the
 * input) is seen.  p->line counts physical lines; a record's line is where
 * it starts.  A structural error marks the record and skips to the end of
 * the physical line. */
static const uint8_t csv_cls[256] = {[','] = 1, ['"'] = 1, ['\r'] = 1, ['\n'] = 1};

static void csv_append(bp *p, const void *s, size_t n)
{
	if (!p->cur_want || !n)
		return;
	if (p->len + n > MAX_RECORD) {
		p->over = true;
		return;
	}
	if (p->len + n > p->cap) {
		size_t c = p->cap ? p->cap : 4096;
		while (c < p->len + n)
			c *= 2;
		p->rec = st_xrealloc(p->rec, c);
		p->cap = c;
	}
	memcpy(p->rec + p->len, s, n);
	p->len += n;
}

static void field_begin(bp *p)
{
	uint32_t c = p->col;
	if (p->header)
		p->cur_want = c < MAX_COLUMNS;
	else
		p->cur_want = c < p->ncols && p->want[c];
	if (p->cur_want) {
		p->fstart[c] = (uint32_t)p->len;
		p->flen[c] = 0;
	}
}

static void field_end(bp *p)
{
	if (p->cur_want)
		p->flen[p->col] = (uint32_t)(p->len - p->fstart[p->col]);
}

static void rec_error(bp *p, const char *msg)
{
	if (!p->err)
		p->err = msg;
}

static int record_end(bp *p)
{
	field_end(p);
	int rc = p->header ? process_header(p) : process_row(p);
	p->len = 0;
	p->err = NULL;
	p->over = false;
	p->rec_started = false;
	p->col = 0;
	p->state = S_START;
	p->rec_line = p->line;
	return rc;
}

static int csv_feed(bp *p, const uint8_t *b, size_t n)
{
	size_t i = 0;
	if (p->at_start && n) {
		p->at_start = false;
		if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
			i = 3;
	}
	while (i < n) {
		uint8_t ch = b[i];
		switch (p->state) {
		case S_AFTER_CR:
			if (ch == '\n')
				i++;
			p->state = S_START;
			break;
		case S_START:
			if (!p->rec_started) {
				if (ch == '\n' || ch == '\r') { /* an empty line */
					p->line++;
					p->rec_line = p->line;
					p->state = ch == '\r' ? S_AFTER_CR : S_START;
					i++;
					break;
				}
				p->rec_started = true;
				p->col = 0;
				field_begin(p);
			}
			if (ch == '"') {
				p->state = S_QUOTED;
				i++;
			} else {
				p->state = S_PLAIN;
			}
			break;
		case S_PLAIN: {
			size_t j = i;
			while (j < n && !csv_cls[b[j]])
				j++;
			csv_append(p, b + i, j - i);
			i = j;
			if (i == n)
				break;
			ch = b[i++];
			if (ch == ',') {
				field_end(p);
				p->col++;
				field_begin(p);
				p->state = S_START;
			} else if (ch == '\n' || ch == '\r') {
				p->line++;
				int rc = record_end(p);
				if (ch == '\r')
					p->state = S_AFTER_CR;
				if (rc < 0)
					return rc;
			} else {
				rec_error(p, "a quote inside an unquoted field");
				p->state = S_SKIP;
			}
			break;
		}
		case S_QUOTED: {
			size_t j = i;
			while (j < n && b[j] != '"' && b[j] != '\n')
				j++;
			csv_append(p, b + i, j - i);
			i = j;
			if (i == n)
				break;
			if (b[i] == '\n') {
				p->line++;
				csv_append(p, "\n", 1);
				i++;
			} else {
				i++;
				p->state = S_QQ;
			}
			break;
		}
		case S_QQ:
			i++;
			if (ch == '"') {
				csv_append(p, "\"", 1);
				p->state = S_QUOTED;
			} else if (ch == ',') {
				field_end(p);
				p->col++;
				field_begin(p);
				p->state = S_START;
			} else if (ch == '\n' || ch == '\r') {
				p->line++;
				int rc = record_end(p);
				if (ch == '\r')
					p->state = S_AFTER_CR;
				if (rc < 0)
					return rc;
			} else {
				rec_error(p, "a character after the closing quote of a field");
				p->state = S_SKIP;
			}
			break;
		case S_SKIP: {
			const uint8_t *nl = memchr(b + i, '\n', n - i);
			if (!nl) {
				i = n;
				break;
			}
			i = (size_t)(nl - b) + 1;
			p->line++;
			int rc = record_end(p);
			if (rc < 0)
				return rc;
			break;
		}
		}
	}
	return 0;
}

static int csv_finish(bp *p)
{
	switch (p->state) {
	case S_QUOTED:
		rec_error(p, "a quoted field is not closed before the end of the file");
		return record_end(p);
	case S_PLAIN:
	case S_QQ:
	case S_SKIP: return record_end(p);
	case S_START: return p->rec_started ? record_end(p) : 0;
	case S_AFTER_CR: return 0;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Reading one file, plain or gzip. */
static void progress(bp *p, size_t n)
{
	p->bytes_done += n;
	if (p->sink->progress && p->bytes_done >= p->next_progress) {
		p->sink->progress(p->sink, "billing bytes", p->bytes_done, p->bytes_total);
		p->next_progress = p->bytes_done + PROGRESS_EVERY;
	}
}

static ssize_t read_full(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int read_file(bp *p, const char *path, uint8_t *in, uint8_t *out)
{
	const char *origin = p->origins[p->cur_file];
	int rc = 0;
	z_stream z;
	bool zinit = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return st_diag_set(p->diag, ST_E_IO, "%s: %s", origin, strerror(errno));

	p->header = true;
	p->state = S_START;
	p->line = 1;
	p->rec_line = 1;
	p->rec_started = false;
	p->col = 0;
	p->len = 0;
	p->err = NULL;
	p->over = false;
	p->at_start = true;

	ssize_t n = read_full(fd, in, READ_CHUNK);
	if (n < 0) {
		rc = st_diag_set(p->diag, ST_E_IO, "%s: %s", origin, strerror(errno));
		goto out;
	}
	progress(p, (size_t)n);
	if (n >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
		memset(&z, 0, sizeof(z));
		if (inflateInit2(&z, 15 + 16) != Z_OK) {
			rc = st_diag_set(p->diag, ST_E_IO, "%s: cannot start zlib", origin);
			goto out;
		}
		zinit = true;
		z.next_in = in;
		z.avail_in = (uInt)n;
		bool in_eof = n < (ssize_t)READ_CHUNK;
		for (;;) {
			if (z.avail_in == 0 && !in_eof) {
				n = read_full(fd, in, READ_CHUNK);
				if (n < 0) {
					rc = st_diag_set(p->diag, ST_E_IO, "%s: %s", origin,
							 strerror(errno));
					goto out;
				}
				progress(p, (size_t)n);
				in_eof = n < (ssize_t)READ_CHUNK;
				z.next_in = in;
				z.avail_in = (uInt)n;
			}
			z.next_out = out;
			z.avail_out = READ_CHUNK;
			int zr = inflate(&z, Z_NO_FLUSH);
			size_t got = READ_CHUNK - z.avail_out;
			if (got && (rc = csv_feed(p, out, got)) < 0)
				goto out;
			if (zr == Z_STREAM_END) {
				if (z.avail_in == 0 && !in_eof) {
					n = read_full(fd, in, READ_CHUNK);
					if (n < 0) {
						rc = st_diag_set(p->diag, ST_E_IO, "%s: %s", origin,
								 strerror(errno));
						goto out;
					}
					progress(p, (size_t)n);
					in_eof = n < (ssize_t)READ_CHUNK;
					z.next_in = in;
					z.avail_in = (uInt)n;
				}
				if (z.avail_in == 0)
					break;
				inflateReset(&z); /* another gzip member follows */
			} else if (zr == Z_BUF_ERROR || (zr == Z_OK && !got)) {
				if (z.avail_in == 0 && in_eof) {
					rc = st_diag_set(p->diag, ST_E_INVALID,
							 "%s: truncated gzip data", origin);
					goto out;
				}
			} else if (zr != Z_OK) {
				rc = st_diag_set(p->diag, ST_E_INVALID,
						 "%s: corrupt gzip data (%s)", origin,
						 z.msg ? z.msg : "zlib error");
				goto out;
			}
		}
	} else {
		while (n > 0) {
			if ((rc = csv_feed(p, in, (size_t)n)) < 0)
				goto out;
			if (n < (ssize_t)READ_CHUNK)
				break;
			n = read_full(fd, in, READ_CHUNK);
			if (n < 0) {
				rc = st_diag_set(p->diag, ST_E_IO, "%s: %s", origin,
						 strerror(errno));
				goto out;
			}
			progress(p, (size_t)n);
		}
	}
	if ((rc = csv_finish(p)) < 0)
		goto out;
	if (p->header)
		rc = st_diag_set(p->diag, ST_E_INVALID, "%s: empty file: no header row", origin);
out:
	if (zinit)
		inflateEnd(&z);
	close(fd);
	return rc;
}

/* ---------------------------------------------------------------------------
 * Emission. */
typedef struct tagv {
	span k, v;
	size_t seq;
} tagv;

typedef struct tagset {
	tagv *t;
	size_t n, cap;
} tagset;

static void tag_add(tagset *s, span k, span v)
{
	if (!k.n)
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->t = st_xrealloc(s->t, s->cap * sizeof(tagv));
	}
	s->t[s->n] = (tagv){k, v, s->n};
	s->n++;
}

static int tag_member(void *ctx, span key, jx *x)
{
	span v;
	int k = jscalar(x, &v);
	if (k == J_ERR)
		return -1;
	if (k == J_SCALAR)
		tag_add(ctx, key, v);
	return 0;
}

typedef struct label_ctx {
	span k, v;
	bool hk, hv;
} label_ctx;

static int label_member(void *ctx, span key, jx *x)
{
	label_ctx *l = ctx;
	span v;
	int k = jscalar(x, &v);
	if (k == J_ERR)
		return -1;
	if (k != J_SCALAR)
		return 0;
	if (span_eq(key, "key")) {
		l->k = v;
		l->hk = true;
	} else if (span_eq(key, "value")) {
		l->v = v;
		l->hv = true;
	}
	return 0;
}

static bool label_el(void *ctx, jx *x)
{
	label_ctx l = {0};
	if (!jobject(x, true, label_member, &l))
		return false;
	if (l.hk && l.hv)
		tag_add(ctx, l.k, l.v);
	return true;
}

static int tag_cmp(const void *a, const void *b)
{
	const tagv *x = a, *y = b;
	size_t n = x->k.n < y->k.n ? x->k.n : y->k.n;
	int c = memcmp(x->k.p, y->k.p, n);
	if (c)
		return c;
	if (x->k.n != y->k.n)
		return x->k.n < y->k.n ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The labels of r into s (sorted by key, unique: the last written wins). */
static bool collect_tags(bp *p, res *r, tagset *s)
{
	s->n = 0;
	bool ok = true;
	if (r->tags_json) {
		jx x = {r->tags_json, r->tags_json + r->tags_json_len, scratch(p, r->tags_json_len),
			0};
		jws(&x);
		if (r->tags_json_kind == 'a')
			ok = jarray(&x, label_el, s);
		else
			ok = jobject(&x, x.p < x.e && *x.p == '{', tag_member, s);
		jws(&x);
		if (!ok || x.p != x.e) {
			s->n = 0;
			ok = false;
		}
	}
	for (size_t o = 0; r->tags_kv && o < r->tags_kv_len;) {
		span k = {r->tags_kv + o, strlen(r->tags_kv + o)};
		o += k.n + 1;
		span v = {r->tags_kv + o, strlen(r->tags_kv + o)};
		o += v.n + 1;
		tag_add(s, k, v);
	}
	if (s->n)
		qsort(s->t, s->n, sizeof(tagv), tag_cmp);
	size_t w = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (i + 1 < s->n && s->t[i + 1].k.n == s->t[i].k.n &&
		    !memcmp(s->t[i + 1].k.p, s->t[i].k.p, s->t[i].k.n))
			continue; /* a later one of the same key wins */
		if (s->t[i].k.n > MAX_VALUE || s->t[i].v.n > MAX_VALUE) {
			r->too_long = true;
			continue;
		}
		if (st_secret_name(s->t[i].k.p, s->t[i].k.n))
			continue; /* a secret-looking key (connector.h) is never stored */
		s->t[w++] = s->t[i];
	}
	s->n = w;
	if (s->n > MAX_TAGS) {
		s->n = MAX_TAGS;
		r->too_long = true;
	}
	return ok;
}

static int tag_hint_kind(span k)
{
	if (span_ieq(k, "service") || span_ieq(k, "app"))
		return ST_HINT_SERVICE;
	if (span_ieq(k, "team") || span_ieq(k, "owner"))
		return ST_HINT_TEAM;
	return -1;
}

static int emit_resource(bp *p, res *r, int type, st_pb *pb, tagset *tags)
{
	st_sink *sink = p->sink;
	st_loc loc = {p->origins[r->file], r->line};
	int rc;
	st_pb_reset(pb);
	st_pb_string(pb, "provider", 8, r->id + 5, r->pfx - 6);
	if (r->service)
		st_pb_string(pb, "service_name", 12, r->service, strlen(r->service));
	if (!r->bucket)
		st_pb_string(pb, "resource_id", 11, r->id + r->pfx, r->idlen - r->pfx);
	if (r->region)
		st_pb_string(pb, "region", 6, r->region, strlen(r->region));
	if (r->account)
		st_pb_string(pb, "account", 7, r->account, strlen(r->account));
	if (r->name)
		st_pb_string(pb, "name", 4, r->name, strlen(r->name));
	tags->n = 0;
	if (!r->bucket && (r->tags_json || r->tags_kv)) {
		if (!collect_tags(p, r, tags)) {
			char msg[200];
			snprintf(msg, sizeof(msg),
				 "%s: not a valid %s; the labels of %.100s are not kept",
				 p->f == F_GCP ? "labels" : "Tags",
				 p->f == F_GCP ? "JSON array of {key, value}" : "JSON object",
				 r->id);
			note(sink, (st_loc){p->origins[r->tag_file], r->tag_line}, msg);
		}
		if (tags->n) {
			st_pb_map_begin(pb, "labels", 6);
			for (size_t i = 0; i < tags->n; i++)
				st_pb_map_add(pb, tags->t[i].k.p, tags->t[i].k.n, tags->t[i].v.p,
					      tags->t[i].v.n);
			if ((rc = st_pb_end(pb, p->diag)) < 0)
				return rc;
		}
	}
	if (r->too_long) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "%.200s: a value over %d bytes (or a tag cell over %u bytes, or more than "
			 "%d tags) was not kept",
			 r->id, MAX_VALUE, MAX_TAGS_CELL, MAX_TAGS);
		note(sink, loc, msg);
	}
	const uint8_t *blob;
	size_t blen;
	if ((rc = st_pb_finish(pb, &blob, &blen, p->diag)) < 0)
		return rc;
	if ((rc = sink->node(sink, r->id, r->idlen, type, blob, blen, loc, p->diag)) < 0)
		return rc;
	if (r->bucket)
		return 0;
	char ev[MAX_VALUE * 2 + 64];
	for (size_t i = 0; i < tags->n; i++) {
		int hk = tag_hint_kind(tags->t[i].k);
		if (hk < 0 || !tags->t[i].v.n)
			continue;
		snprintf(ev, sizeof(ev), "tag %.*s=%.*s", (int)tags->t[i].k.n, tags->t[i].k.p,
			 (int)tags->t[i].v.n, tags->t[i].v.p);
		st_loc tl = {p->origins[r->tag_file], r->tag_line};
		if ((rc = sink->hint(sink, r->id, r->idlen, (st_hint_kind)hk, tags->t[i].v.p,
				     tags->t[i].v.n, "billing-tag", ev, tl, p->diag)) < 0)
			return rc;
	}
	const char *col = p->f == F_FOCUS ? "ResourceId" :
			  p->f == F_CUR	  ? "lineItem/ResourceId" :
					    "resource";
	snprintf(ev, sizeof(ev), "%s %.*s", col, (int)(r->idlen - r->pfx), r->id + r->pfx);
	return sink->hint(sink, r->id, r->idlen, ST_HINT_CLOUD_ID, r->id + r->pfx,
			  r->idlen - r->pfx, "billing-resource-id", ev, loc, p->diag);
}

static int cent_cmp(const void *a, const void *b)
{
	const cent *x = a, *y = b;
	if (x->res != y->res)
		return x->res < y->res ? -1 : 1;
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return (x->cur > y->cur) - (x->cur < y->cur);
}

static int emit(bp *p)
{
	st_sink *sink = p->sink;
	int type = st_schema_find_node_type(sink->schema, "BillingResource", 15);
	if (type < 0)
		return st_diag_set(p->diag, ST_E_SCHEMA, "the schema has no BillingResource type");
	st_pb pb;
	st_pb_init(&pb);
	tagset tags = {0};
	int rc = 0;
	for (size_t i = 0; i < p->n_res; i++)
		if ((rc = emit_resource(p, &p->res[i], type, &pb, &tags)) < 0)
			goto out;
	free(p->eslots);
	p->eslots = NULL;
	p->n_eslots = 0;
	if (p->n_ents)
		qsort(p->ents, p->n_ents, sizeof(cent), cent_cmp);
	for (size_t i = 0; i < p->n_ents; i++) {
		const cent *e = &p->ents[i];
		const res *r = &p->res[e->res];
		st_loc loc = {p->origins[e->file], e->line};
		int64_t billed, eff;
		if (!amount_to_micros(e->billed, &billed) || !amount_to_micros(e->eff, &eff)) {
			char d[11], c[4];
			st_day_format(e->day, d);
			st_currency_format(e->cur, c);
			rc = st_diag_set(
				p->diag, ST_E_LIMIT,
				"%s:%u: the %s cost of %.200s on %s exceeds 2^63 micro-units",
				loc.origin, loc.line, c, r->id, d);
			goto out;
		}
		if ((rc = sink->cost(sink, r->id, r->idlen, e->day, e->cur, eff, billed, loc,
				     p->diag)) < 0)
			goto out;
	}
out:
	free(tags.t);
	st_pb_free(&pb);
	return rc;
}

/* ---------------------------------------------------------------------------
 * The run. */
static bool csv_name(const char *n)
{
	size_t l = strlen(n);
	if (n[0] == '.')
		return false;
	return (l > 4 && !strcasecmp(n + l - 4, ".csv")) ||
	       (l > 7 && !strcasecmp(n + l - 7, ".csv.gz"));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *make_origin(const st_source *src, const char *name)
{
	size_t n = strlen(src->name) + strlen(name) + 2;
	char *o = st_xmalloc(n);
	snprintf(o, n, "%s:%s", src->name, name);
	return o;
}

static int run_fmt(fmt f, const st_source *src, st_sink *sink, st_diag *diag)
{
	bp *p = st_xcalloc(1, sizeof(*p));
	char **paths = NULL;
	uint8_t *in = NULL, *out = NULL;
	DIR *dir = NULL;
	int rc = 0;
	p->src = src;
	p->sink = sink;
	p->diag = diag;
	p->f = f;
	for (int i = 0; i < N_ROLES; i++)
		p->role_col[i] = -1;

	for (size_t i = 0; i < src->n_options; i++) {
		const st_kv *o = &src->options[i];
		if (!strcmp(o->key, "on_error")) {
			if (!strcmp(o->value, "fail"))
				p->skip_bad = false;
			else if (!strcmp(o->value, "skip"))
				p->skip_bad = true;
			else {
				rc = st_diag_set(
					diag, ST_E_INVALID,
					"source '%s': option on_error must be 'fail' or 'skip'",
					src->name);
				goto out;
			}
		} else {
			rc = st_diag_set(
				diag, ST_E_INVALID,
				"source '%s': unknown option '%s' (kind %s takes on_error)",
				src->name, o->key, src->kind ? src->kind : fmt_kind(f));
			goto out;
		}
	}
	if (!src->location || !*src->location) {
		rc = st_diag_set(diag, ST_E_INVALID, "source '%s': no location", src->name);
		goto out;
	}

	struct stat st;
	if (stat(src->location, &st) < 0) {
		rc = st_diag_set(diag, ST_E_IO, "source '%s': %s: %s", src->name, src->location,
				 strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		dir = opendir(src->location);
		if (!dir) {
			rc = st_diag_set(diag, ST_E_IO, "source '%s': %s: %s", src->name,
					 src->location, strerror(errno));
			goto out;
		}
		struct dirent *de;
		size_t cap = 0;
		while ((de = readdir(dir))) {
			if (!csv_name(de->d_name))
				continue;
			if (p->n_files == MAX_FILES) {
				rc = st_diag_set(diag, ST_E_LIMIT,
						 "source '%s': %s: more than %d CSV files",
						 src->name, src->location, MAX_FILES);
				goto out;
			}
			if (p->n_files == cap) {
				cap = cap ? cap * 2 : 16;
				paths = st_xrealloc(paths, cap * sizeof(char *));
			}
			paths[p->n_files++] = st_xstrndup(de->d_name, strlen(de->d_name));
		}
		if (!p->n_files) {
			rc = st_diag_set(diag, ST_E_INVALID,
					 "source '%s': %s: no *.csv or *.csv.gz files", src->name,
					 src->location);
			goto out;
		}
		qsort(paths, p->n_files, sizeof(char *), cmp_str);
		p->origins = st_xcalloc(p->n_files, sizeof(char *));
		for (size_t i = 0; i < p->n_files; i++) {
			p->origins[i] = make_origin(src, paths[i]);
			size_t n = strlen(src->location) + strlen(paths[i]) + 2;
			char *full = st_xmalloc(n);
			snprintf(full, n, "%s/%s", src->location, paths[i]);
			free(paths[i]);
			paths[i] = full;
			struct stat fs;
			if (stat(full, &fs) == 0 && S_ISREG(fs.st_mode))
				p->bytes_total += (uint64_t)fs.st_size;
			else
				paths[i][0] = 0; /* not a regular file: not read */
		}
		size_t w = 0;
		for (size_t i = 0; i < p->n_files; i++) {
			if (paths[i][0]) {
				paths[w] = paths[i];
				p->origins[w++] = p->origins[i];
			} else {
				free(paths[i]);
				free(p->origins[i]);
			}
		}
		p->n_files = w;
		if (!p->n_files) {
			rc = st_diag_set(diag, ST_E_INVALID,
					 "source '%s': %s: no *.csv or *.csv.gz files", src->name,
					 src->location);
			goto out;
		}
	} else {
		p->n_files = 1;
		paths = st_xcalloc(1, sizeof(char *));
		paths[0] = st_xstrndup(src->location, strlen(src->location));
		const char *base = strrchr(src->location, '/');
		p->origins = st_xcalloc(1, sizeof(char *));
		p->origins[0] = make_origin(src, base ? base + 1 : src->location);
		p->bytes_total = (uint64_t)st.st_size;
	}

	in = st_xmalloc(READ_CHUNK);
	out = st_xmalloc(READ_CHUNK);
	for (size_t i = 0; i < p->n_files; i++) {
		p->cur_file = (uint32_t)i;
		if ((rc = read_file(p, paths[i], in, out)) < 0)
			goto out;
	}
	if (sink->progress)
		sink->progress(sink, "billing bytes", p->bytes_done, p->bytes_total);
	if ((rc = emit(p)) < 0)
		goto out;
	if (p->skipped) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "%llu malformed row%s skipped (on_error: skip), the first at %s:%u",
			 (unsigned long long)p->skipped, p->skipped == 1 ? "" : "s",
			 p->origins[p->skip_file], p->skip_line);
		note(sink, (st_loc){p->origins[p->skip_file], 0}, msg);
	}
	if (sink->progress) {
		sink->progress(sink, "billing rows", p->rows, p->rows);
		sink->progress(sink, "billing rows skipped", p->skipped, p->skipped);
		sink->progress(sink, "billing resources", p->n_res, p->n_res);
		sink->progress(sink, "billing cost facts", p->n_ents, p->n_ents);
	}
out:
	if (dir)
		closedir(dir);
	for (size_t i = 0; paths && i < p->n_files; i++)
		free(paths[i]);
	free(paths);
	for (size_t i = 0; p->origins && i < p->n_files; i++)
		free(p->origins[i]);
	free(p->origins);
	for (size_t i = 0; i < p->n_res; i++) {
		res *r = &p->res[i];
		free(r->id);
		free(r->service);
		free(r->region);
		free(r->account);
		free(r->name);
		free(r->tags_json);
		free(r->tags_kv);
	}
	free_columns(p);
	free(p->res);
	free(p->rslots);
	free(p->ents);
	free(p->eslots);
	free(p->rec);
	free(p->scratch);
	free(in);
	free(out);
	free(p);
	return rc < 0 ? rc : 0;
}

static int run_focus(const st_source *src, st_sink *sink, st_diag *diag)
{
	return run_fmt(F_FOCUS, src, sink, diag);
}

static int run_cur(const st_source *src, st_sink *sink, st_diag *diag)
{
	return run_fmt(F_CUR, src, sink, diag);
}

static int run_gcp(const st_source *src, st_sink *sink, st_diag *diag)
{
	return run_fmt(F_GCP, src, sink, diag);
}

const st_connector st_connector_focus = {
	"focus", "FOCUS billing export: CSV or CSV.gz file or directory -> BillingResource + costs",
	run_focus};
const st_connector st_connector_cur = {
	"cur",
	"AWS Cost and Usage Report: CSV or CSV.gz file or directory -> BillingResource + costs",
	run_cur};
const st_connector st_connector_gcp_billing = {
	"gcp-billing",
	"GCP billing export as CSV (or CSV.gz) file or directory -> BillingResource + costs",
	run_gcp};
