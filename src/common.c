/*
 * common.c — error names, diagnostics, checked allocation, and the exact
 * text<->integer conversions for days, money and currencies that the store,
 * the importer and the exporter must agree on byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

const char *st_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case ST_E_INVALID: return "invalid input";
	case ST_E_NOTFOUND: return "not found";
	case ST_E_EXISTS: return "conflicts with an existing object";
	case ST_E_LIMIT: return "limit exceeded";
	case ST_E_STORE: return "store error";
	case ST_E_SCHEMA: return "invalid schema";
	case ST_E_IO: return "I/O error";
	case ST_E_VERSION: return "incompatible store format version";
	case ST_E_FULL: return "store map size exhausted";
	case ST_E_BUSY: return "store is busy";
	default:
		if (err < 0 && err > -4096)
			return strerror(-err);
		return "unknown error";
	}
}

int st_diag_set(st_diag *d, int code, const char *fmt, ...)
{
	if (d) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

void st_diag_prefix(st_diag *d, const char *fmt, ...)
{
	if (!d)
		return;
	char pre[ST_DIAG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* build "pre: msg" in place, truncating at the buffer's end */
	size_t pl = strlen(pre), ml = strlen(d->msg);
	if (pl + 2 >= sizeof(d->msg))
		pl = sizeof(d->msg) - 3;
	if (pl + 2 + ml >= sizeof(d->msg))
		ml = sizeof(d->msg) - 1 - pl - 2;
	memmove(d->msg + pl + 2, d->msg, ml);
	memcpy(d->msg, pre, pl);
	d->msg[pl] = ':';
	d->msg[pl + 1] = ' ';
	d->msg[pl + 2 + ml] = '\0';
}

static void oom(void)
{
	fputs("stacktwin: out of memory\n", stderr);
	abort();
}

void *st_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *st_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *st_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom();
	return q;
}

char *st_xstrndup(const char *s, size_t n)
{
	char *p = st_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
static int32_t days_from_civil(int y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int32_t)doe - 719468;
}

static void civil_from_days(int32_t z, int *ry, unsigned *rm, unsigned *rd)
{
	z += 719468;
	const int era = (z >= 0 ? z : z - 146096) / 146097;
	const unsigned doe = (unsigned)(z - era * 146097);
	const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const int y = (int)yoe + era * 400;
	const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const unsigned mp = (5 * doy + 2) / 153;
	const unsigned d = doy - (153 * mp + 2) / 5 + 1;
	const unsigned m = mp < 10 ? mp + 3 : mp - 9;
	*ry = y + (m <= 2);
	*rm = m;
	*rd = d;
}

static bool digits(const char *s, size_t n, unsigned *ret)
{
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*ret = v;
	return true;
}

int st_day_parse(const char *s, size_t len, int32_t *ret_day)
{
	unsigned y, m, d;
	if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) ||
	    !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
		return ST_E_INVALID;
	if (y < 1970 || m < 1 || m > 12 || d < 1)
		return ST_E_INVALID;
	static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned maxd = mdays[m - 1];
	if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		maxd = 29;
	if (d > maxd)
		return ST_E_INVALID;
	*ret_day = days_from_civil((int)y, m, d);
	return 0;
}

int32_t st_day_month(int32_t day)
{
	int y;
	unsigned m, d;
	civil_from_days(day, &y, &m, &d);
	return (y - 1970) * 12 + (int32_t)m - 1;
}

int32_t st_month_first_day(int32_t month)
{
	return days_from_civil(1970 + month / 12, (unsigned)(month % 12) + 1, 1);
}

void st_day_format(int32_t day, char buf[static 11])
{
	int y;
	unsigned m, d;
	civil_from_days(day, &y, &m, &d);
	unsigned yy = (unsigned)y % 10000u;
	buf[0] = (char)('0' + yy / 1000);
	buf[1] = (char)('0' + yy / 100 % 10);
	buf[2] = (char)('0' + yy / 10 % 10);
	buf[3] = (char)('0' + yy % 10);
	buf[4] = '-';
	buf[5] = (char)('0' + m / 10);
	buf[6] = (char)('0' + m % 10);
	buf[7] = '-';
	buf[8] = (char)('0' + d / 10);
	buf[9] = (char)('0' + d % 10);
	buf[10] = '\0';
}

int st_money_parse(const char *s, size_t len, int64_t *ret_micros)
{
	size_t i = 0;
	bool neg = false;
	if (i < len && s[i] == '-') {
		neg = true;
		i++;
	}
	size_t int_start = i;
	uint64_t v = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (v > (uint64_t)(INT64_MAX / ST_MONEY_SCALE) / 10)
			return ST_E_LIMIT;
		v = v * 10 + (uint64_t)(s[i] - '0');
		i++;
	}
	if (i == int_start)
		return ST_E_INVALID;
	uint64_t frac = 0;
	unsigned nfrac = 0;
	if (i < len && s[i] == '.') {
		i++;
		size_t fs = i;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (nfrac == 6) {
				if (s[i] != '0')
					return ST_E_LIMIT; /* more precision than micro-units */
			} else {
				frac = frac * 10 + (uint64_t)(s[i] - '0');
				nfrac++;
			}
			i++;
		}
		if (i == fs)
			return ST_E_INVALID;
	}
	if (i != len)
		return ST_E_INVALID;
	while (nfrac < 6) {
		frac *= 10;
		nfrac++;
	}
	uint64_t total = v * (uint64_t)ST_MONEY_SCALE + frac;
	if (total > (uint64_t)INT64_MAX)
		return ST_E_LIMIT;
	*ret_micros = neg ? -(int64_t)total : (int64_t)total;
	return 0;
}

size_t st_money_format(int64_t micros, char *buf)
{
	uint64_t a = micros < 0 ? (uint64_t)0 - (uint64_t)micros : (uint64_t)micros;
	uint64_t ip = a / (uint64_t)ST_MONEY_SCALE, fp = a % (uint64_t)ST_MONEY_SCALE;
	int n;
	if (fp == 0) {
		n = snprintf(buf, ST_MONEY_BUF, "%s%llu", micros < 0 ? "-" : "",
			     (unsigned long long)ip);
	} else {
		char f[8];
		snprintf(f, sizeof(f), "%06llu", (unsigned long long)fp);
		int fl = 6;
		while (fl > 0 && f[fl - 1] == '0')
			fl--;
		f[fl] = '\0';
		n = snprintf(buf, ST_MONEY_BUF, "%s%llu.%s", micros < 0 ? "-" : "",
			     (unsigned long long)ip, f);
	}
	return (size_t)n;
}

int st_currency_parse(const char *s, size_t len, uint16_t *ret_code)
{
	if (len != 3)
		return ST_E_INVALID;
	uint16_t c = 0;
	for (size_t i = 0; i < 3; i++) {
		if (s[i] < 'A' || s[i] > 'Z')
			return ST_E_INVALID;
		c = (uint16_t)((c << 5) | (uint16_t)(s[i] - 'A'));
	}
	*ret_code = c;
	return 0;
}

void st_currency_format(uint16_t code, char buf[static 4])
{
	buf[0] = (char)('A' + ((code >> 10) & 31));
	buf[1] = (char)('A' + ((code >> 5) & 31));
	buf[2] = (char)('A' + (code & 31));
	buf[3] = '\0';
}

size_t st_double_format(double v, char *buf)
{
	/* Shortest digit string that reads back to v (precision 1..17), then
	 * laid out as JavaScript's Number#toString does: plain notation for
	 * decimal exponents -7 < x < 21, else d.ddde+x.  So 10 is "10", 0.1 is
	 * "0.1", 1e300 is "1e+300". */
	char e[40];
	int p = 1;
	for (; p <= 17; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	if (p > 17)
		p = 17;
	char digits[20];
	size_t nd = 0, i = 0;
	bool neg = e[0] == '-';
	if (neg)
		i++;
	for (; e[i] && e[i] != 'e'; i++)
		if (e[i] >= '0' && e[i] <= '9')
			digits[nd++] = e[i];
	int x = e[i] == 'e' ? (int)strtol(e + i + 1, NULL, 10) : 0;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (nd == 1 && digits[0] == '0')
		x = 0; /* zero; -0 keeps its sign so it reads back bit for bit */
	size_t n = 0;
	if (neg)
		buf[n++] = '-';
	if (x >= 0 && x < 21) {
		for (size_t k = 0; k < (size_t)x + 1 || k < nd; k++) {
			if (k == (size_t)x + 1)
				buf[n++] = '.';
			buf[n++] = k < nd ? digits[k] : '0';
		}
	} else if (x < 0 && x > -7) {
		buf[n++] = '0';
		buf[n++] = '.';
		for (int k = 0; k < -x - 1; k++)
			buf[n++] = '0';
		for (size_t k = 0; k < nd; k++)
			buf[n++] = digits[k];
	} else {
		buf[n++] = digits[0];
		if (nd > 1) {
			buf[n++] = '.';
			for (size_t k = 1; k < nd; k++)
				buf[n++] = digits[k];
		}
		n += (size_t)snprintf(buf + n, 32 - n, "e%c%d", x < 0 ? '-' : '+', x < 0 ? -x : x);
	}
	buf[n] = '\0';
	return n;
}
