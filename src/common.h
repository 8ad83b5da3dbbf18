/*
 * common.h — error codes, diagnostics and small helpers shared by every module.
 *
 * Every function that can fail returns an int: 0 on success, a negative errno
 * value, or one of the negative ST_E_* codes below.  st_strerror() names them.
 * Where a human needs more than a code ("nodes.jsonl:12: unknown node type"),
 * the function also takes a caller-owned st_diag and writes one message into
 * it; library code never prints or logs.
 *
 * This header must stay free of third-party includes.
 */
#ifndef ST_COMMON_H
#define ST_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	ST_E_BASE = -20000,
	ST_E_INVALID,   /* input does not follow the format or the schema */
	ST_E_NOTFOUND,  /* unknown id, type or key */
	ST_E_EXISTS,    /* conflicting existing object (e.g. a node's type change) */
	ST_E_LIMIT,     /* a configured or built-in bound was hit */
	ST_E_STORE,     /* the LMDB store failed or is corrupt */
	ST_E_SCHEMA,    /* the schema file itself is invalid */
	ST_E_IO,        /* reading or writing a file failed */
	ST_E_VERSION,   /* the store was written by an incompatible format version */
	ST_E_FULL,      /* the store's map size is exhausted */
	ST_E_BUSY,      /* another writer holds the store */
};

/* A human-readable message for an error code; never NULL; static storage. */
const char *st_strerror(int err);

/* One diagnostic message, filled by functions that take a `st_diag *`. */
#define ST_DIAG_MAX 1024
typedef struct st_diag {
	char msg[ST_DIAG_MAX];
} st_diag;

/* Write a message into d (if d is not NULL) and return code; printf-style. */
int st_diag_set(st_diag *d, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefix the current message of d with "prefix: ". */
void st_diag_prefix(st_diag *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define ST_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ST_UNUSED __attribute__((unused))

/* Allocation that aborts on out-of-memory: used for internal bookkeeping whose
 * failure cannot be handled more usefully than by stopping. */
void *st_xmalloc(size_t n);
void *st_xcalloc(size_t n, size_t size);
void *st_xrealloc(void *p, size_t n);
char *st_xstrndup(const char *s, size_t n);

static inline void st_freep(void *p)
{
	extern void free(void *);
	free(*(void **)p);
}
#define _cleanup_free_ __attribute__((cleanup(st_freep)))

/* Days since 1970-01-01 <-> "YYYY-MM-DD".  Parsing is strict (zero-padded,
 * valid calendar date, years 1970..9999, i.e. days 0..2932896) and returns
 * ST_E_INVALID otherwise; formatting expects a day in that range. */
int st_day_parse(const char *s, size_t len, int32_t *ret_day);
/* Months since 1970-01 of a day (0 for any day in January 1970). */
int32_t st_day_month(int32_t day);
/* The first day (days since 1970-01-01) of a month since 1970-01. */
int32_t st_month_first_day(int32_t month);
/* Writes exactly 10 characters plus a NUL into buf (size >= 11). */
void st_day_format(int32_t day, char buf[static 11]);

/* Money: integer micro-units (1e-6) of a currency, |amount| <= INT64_MAX
 * micro-units (INT64_MIN itself is rejected).  Parsing accepts an
 * optional '-', digits, and at most 6 fractional digits; no exponent.
 * Formatting is canonical: no trailing fractional zeros, no '+', "0" for 0. */
#define ST_MONEY_SCALE 1000000LL
int st_money_parse(const char *s, size_t len, int64_t *ret_micros);
/* buf must hold ST_MONEY_BUF bytes; returns the length written. */
#define ST_MONEY_BUF 32
size_t st_money_format(int64_t micros, char *buf);

/* Currency codes (ISO 4217, three upper-case letters) packed in 15 bits. */
int st_currency_parse(const char *s, size_t len, uint16_t *ret_code);
void st_currency_format(uint16_t code, char buf[static 4]);

/* Shortest decimal form of a finite double that reads back to the same
 * value, laid out like JavaScript's Number#toString ("10", "0.1", "1e+300",
 * "1.5e-7"); buf must hold 32 bytes; returns the length.  NaN and infinities
 * are not JSON: callers reject them before formatting. */
size_t st_double_format(double v, char *buf);

#endif
