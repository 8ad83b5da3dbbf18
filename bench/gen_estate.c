/*
 * gen_estate.c — the benchmark estate generator (bench/gen-estate).
 *
 * Writes a synthetic enterprise software estate as canonical interchange
 * JSON Lines (docs/interchange.md): DIR/nodes.jsonl, DIR/edges.jsonl and
 * DIR/costs.jsonl.  Scale S=1 is about 10k nodes, 55k edges and 110k cost
 * facts; everything grows linearly with S.  docs/generator.md describes the
 * shapes and distributions.
 *
 * The output is a pure function of (scale, seed): every random choice comes
 * from xoshiro256** streams seeded with splitmix64, and the only floating
 * point used for decisions is IEEE basic arithmetic (our own exp/log below,
 * not libm's, whose last bits may differ between machines).  Floats that
 * reach the output are built as decimals (m / 10^k) and printed exactly, so
 * no printf of a double is involved either.
 *
 * What it must not do: depend on the store or the schema code (it is a
 * standalone program), emit anything that is not canonical (sorted props and
 * map keys, no whitespace), emit one (src, type, dst) edge or one
 * (resource, day, currency) cost fact twice, or use per-record allocation.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The same doubles with or without fused multiply-add: GCC does not contract
 * in ISO C mode (-std=c17); clang needs to be told. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define SCALE_MAX   1000
#define OUT_CAP     (1u << 20)      /* bytes buffered per output file */
#define ID_MAX      400             /* interchange limit for node ids */
#define NDAYS       30
#define FIRST_DAY   20727           /* 2026-10-01 as days since 1970-01-01 */
#define ORG         "acme"

/* ---- fatal errors ----------------------------------------------------- */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("gen-estate: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		die("out of memory (%zu x %zu bytes)", n, size);
	return p;
}

/* ---- deterministic random numbers ------------------------------------- */

typedef struct rng {
	uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A bijection on 64-bit integers: distinct inputs give distinct outputs,
 * which keeps the hex cloud ids derived from indices unique. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Each phase of the generator draws from its own stream, so changing one
 * phase does not reshuffle the others. */
static void rng_init(rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed;
	x = splitmix64(&x) ^ (stream * 0xd1b54a32d192ed03ull);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n), unbiased; n > 0. */
static uint64_t rng_below(rng *r, uint64_t n)
{
	uint64_t threshold = (0 - n) % n;
	uint64_t x;
	do
		x = rng_next(r);
	while (x < threshold);
	return x % n;
}

static uint32_t rng_u32(rng *r, uint32_t n)
{
	return (uint32_t)rng_below(r, n);
}

/* Uniform in [lo, hi]. */
static uint32_t rng_range(rng *r, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)rng_below(r, (uint64_t)hi - lo + 1);
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_unit(rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static bool rng_chance(rng *r, double p)
{
	return rng_unit(r) < p;
}

/* Index into a table of integer weights. */
static unsigned rng_pick(rng *r, const unsigned *weights, unsigned n)
{
	unsigned total = 0;
	for (unsigned i = 0; i < n; i++)
		total += weights[i];
	unsigned x = rng_u32(r, total);
	for (unsigned i = 0; i < n; i++) {
		if (x < weights[i])
			return i;
		x -= weights[i];
	}
	return n - 1;
}

/* ---- deterministic math ----------------------------------------------- */

#define LN2      0.6931471805599453
#define INV_LN2  1.4426950408889634

/* Natural log of a positive normal double, from basic IEEE operations only. */
static double det_log(double x)
{
	union { double d; uint64_t u; } v = { .d = x };
	int e = (int)((v.u >> 52) & 0x7ff) - 1023;
	v.u = (v.u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
	double m = v.d;
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	double t = (m - 1.0) / (m + 1.0), t2 = t * t, term = t, sum = 0.0;
	for (int k = 1; k <= 41; k += 2) {
		sum += term / k;
		term *= t2;
	}
	return e * LN2 + 2.0 * sum;
}

/* e^x for x clamped to [-700, 700], from basic IEEE operations only. */
static double det_exp(double x)
{
	if (x < -700.0)
		x = -700.0;
	if (x > 700.0)
		x = 700.0;
	double kf = x * INV_LN2;
	int64_t k = (int64_t)(kf < 0 ? kf - 0.5 : kf + 0.5);
	double r = x - (double)k * LN2;
	double sum = 1.0, term = 1.0;
	for (int i = 1; i <= 22; i++) {
		term *= r / i;
		sum += term;
	}
	union { double d; uint64_t u; } p = { .u = (uint64_t)(k + 1023) << 52 };
	return sum * p.d;
}

/* Approximately standard normal (Irwin-Hall of 12 uniforms). */
static double rng_normal(rng *r)
{
	double s = 0.0;
	for (int i = 0; i < 12; i++)
		s += rng_unit(r);
	return s - 6.0;
}

/* Log-normal with the given median and log-space sigma. */
static double rng_lognormal(rng *r, double median, double sigma)
{
	return median * det_exp(sigma * rng_normal(r));
}

/* ---- Zipf-Mandelbrot sampling ----------------------------------------- */

/* P(rank k) ∝ (k + q)^-s for k = 1..n; sampled by binary search over the
 * cumulative weights. */
typedef struct zipf {
	double *cdf;
	uint32_t n;
} zipf;

static void zipf_init(zipf *z, uint32_t n, double s, double q)
{
	z->n = n;
	z->cdf = xcalloc(n, sizeof(double));
	double acc = 0.0;
	for (uint32_t k = 0; k < n; k++) {
		acc += det_exp(-s * det_log((double)k + 1.0 + q));
		z->cdf[k] = acc;
	}
}

static uint32_t zipf_draw(const zipf *z, rng *r)
{
	double x = rng_unit(r) * z->cdf[z->n - 1];
	uint32_t lo = 0, hi = z->n - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (z->cdf[mid] > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* ---- buffered output -------------------------------------------------- */

typedef struct out {
	FILE *f;
	const char *path;
	char *buf;
	size_t len;
	int err;
	uint64_t records;
	uint64_t bytes;
} out;

static void out_flush(out *o)
{
	if (o->len && !o->err && fwrite(o->buf, 1, o->len, o->f) != o->len)
		o->err = errno ? errno : EIO;
	o->bytes += o->len;
	o->len = 0;
}

/* Room for n more bytes (n is at most a few KiB). */
static char *out_reserve(out *o, size_t n)
{
	if (o->len + n > OUT_CAP)
		out_flush(o);
	return o->buf + o->len;
}

static void out_mem(out *o, const char *s, size_t n)
{
	memcpy(out_reserve(o, n), s, n);
	o->len += n;
}

#define out_lit(o, s) out_mem((o), (s), sizeof(s) - 1)

static void out_c(out *o, char c)
{
	*out_reserve(o, 1) = c;
	o->len++;
}

static void out_u64(out *o, uint64_t v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	char *p = out_reserve(o, (size_t)n);
	for (int i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	o->len += (size_t)n;
}

static void out_i64(out *o, int64_t v)
{
	if (v < 0) {
		out_c(o, '-');
		out_u64(o, (uint64_t)0 - (uint64_t)v);
	} else {
		out_u64(o, (uint64_t)v);
	}
}

/* A JSON string: escapes only '"', '\\' and control characters. */
static void out_jstr(out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *p = out_reserve(o, 6 * n + 2);
	size_t k = 0;
	p[k++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			p[k++] = '\\';
			p[k++] = (char)c;
		} else if (c < 0x20) {
			p[k++] = '\\';
			p[k++] = 'u';
			p[k++] = '0';
			p[k++] = '0';
			p[k++] = hex[c >> 4];
			p[k++] = hex[c & 15];
		} else {
			p[k++] = (char)c;
		}
	}
	p[k++] = '"';
	o->len += k;
}

static const uint64_t pow10_tab[] = {
	1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
};

/* The decimal m / 10^k (k <= 6) without trailing fractional zeros. */
static void out_dec(out *o, uint64_t m, unsigned k)
{
	uint64_t ip = m / pow10_tab[k], fp = m % pow10_tab[k];
	out_u64(o, ip);
	if (!fp)
		return;
	char digits[6];
	unsigned n = k;
	for (unsigned i = k; i-- > 0;) {
		digits[i] = (char)('0' + fp % 10);
		fp /= 10;
	}
	while (digits[n - 1] == '0')
		n--;
	out_c(o, '.');
	out_mem(o, digits, n);
}

/* Canonical money: micro-units as a decimal, "0" for zero, no exponent. */
static void out_money(out *o, int64_t micros)
{
	if (micros < 0) {
		out_c(o, '-');
		out_dec(o, (uint64_t)0 - (uint64_t)micros, 6);
	} else {
		out_dec(o, (uint64_t)micros, 6);
	}
}

/* ---- calendar --------------------------------------------------------- */

/* Days since 1970-01-01 to year/month/day (proleptic Gregorian). */
static void civil_from_days(int64_t z, int *ret_y, unsigned *ret_m, unsigned *ret_d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	*ret_y = (int)(y + (m <= 2));
	*ret_m = m;
	*ret_d = d;
}

static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

/* "YYYY-MM-DD" into buf (11 bytes). */
static void format_day(int64_t days, char *buf)
{
	int y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	put2(buf, (unsigned)y / 100);
	put2(buf + 2, (unsigned)y % 100);
	buf[4] = '-';
	put2(buf + 5, m);
	buf[7] = '-';
	put2(buf + 8, d);
	buf[10] = '\0';
}

/* "YYYY-MM-DDTHH:MM:SSZ" into buf (21 bytes). */
static void format_ts(int64_t secs, char *buf)
{
	int64_t days = secs / 86400, rem = secs % 86400;
	format_day(days, buf);
	buf[10] = 'T';
	put2(buf + 11, (unsigned)(rem / 3600));
	buf[13] = ':';
	put2(buf + 14, (unsigned)(rem / 60 % 60));
	buf[16] = ':';
	put2(buf + 17, (unsigned)(rem % 60));
	buf[19] = 'Z';
	buf[20] = '\0';
}

/* ---- small string builder (ids, names, values) ------------------------ */

typedef struct sbuf {
	char s[512];
	size_t n;
} sbuf;

static void sb_add(sbuf *b, const char *s)
{
	size_t n = strlen(s);
	if (b->n + n >= sizeof(b->s))
		die("internal: string too long");
	memcpy(b->s + b->n, s, n + 1);
	b->n += n;
}

static void sb_set(sbuf *b, const char *s)
{
	b->n = 0;
	b->s[0] = '\0';
	sb_add(b, s);
}

static void sb_addn(sbuf *b, const char *s, size_t n)
{
	if (b->n + n >= sizeof(b->s))
		die("internal: string too long");
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

/* Decimal, zero-padded to at least width digits. */
static void sb_num(sbuf *b, uint64_t v, int width)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		tmp[n++] = '0';
	if (b->n + (size_t)n >= sizeof(b->s))
		die("internal: string too long");
	for (int i = 0; i < n; i++)
		b->s[b->n++] = tmp[n - 1 - i];
	b->s[b->n] = '\0';
}

static void sb_hex(sbuf *b, uint64_t v, int digits)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	for (int i = digits; i-- > 0;) {
		tmp[i] = hex[v & 15];
		v >>= 4;
	}
	sb_addn(b, tmp, (size_t)digits);
}

/* Kubernetes-style random suffix ("7d9f8b6c5", "x2k9p"). */
static void sb_kname(sbuf *b, rng *r, int n)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	char tmp[16];
	for (int i = 0; i < n; i++)
		tmp[i] = alphabet[rng_u32(r, sizeof(alphabet) - 1)];
	sb_addn(b, tmp, (size_t)n);
}

/* ---- node and edge types ---------------------------------------------- */

enum ntype {
	N_DOMAIN, N_SYSTEM, N_TEAM, N_USER, N_SERVICE, N_COMPONENT, N_API,
	N_RESOURCE, N_REPO, N_CLUSTER, N_NAMESPACE, N_DEPLOYMENT, N_REPLICASET,
	N_POD, N_KSERVICE, N_INGRESS, N_KNODE, N_CLOUD, N_BILLING, N__COUNT
};

static const char *const ntype_name[N__COUNT] = {
	"Domain", "System", "Team", "User", "Service", "Component", "API",
	"Resource", "Repository", "KubernetesCluster", "KubernetesNamespace",
	"KubernetesDeployment", "KubernetesReplicaSet", "KubernetesPod",
	"KubernetesService", "KubernetesIngress", "KubernetesNode",
	"CloudResource", "BillingResource",
};

enum etype {
	E_OWNS, E_PART_OF, E_MEMBER_OF, E_DEPENDS_ON, E_CALLS, E_PROVIDES_API,
	E_CONSUMES_API, E_DEFINED_IN, E_RUNS, E_CONTROLLED_BY, E_RUNS_ON,
	E_SELECTS, E_ROUTES_TO, E_SCOPED_IN, E_SAME_AS, E_BILLED_TO, E__COUNT
};

static const char *const etype_name[E__COUNT] = {
	"OWNS", "PART_OF", "MEMBER_OF", "DEPENDS_ON", "CALLS", "PROVIDES_API",
	"CONSUMES_API", "DEFINED_IN", "RUNS", "CONTROLLED_BY", "RUNS_ON",
	"SELECTS", "ROUTES_TO", "SCOPED_IN", "SAME_AS", "BILLED_TO",
};

/* ---- cloud resource kinds --------------------------------------------- */

typedef struct cloud_kind {
	const char *tf_type;      /* Terraform resource type */
	const char *prefix;       /* name prefix */
	const char *service_name; /* billing export product */
	const char *catalog_type; /* Backstage Resource type it can realise */
	unsigned weight;          /* per mille of cloud resources */
	double median_usd;        /* median daily cost */
} cloud_kind;

enum { CK_INSTANCE, CK_DB, CK_S3, CK_LAMBDA, CK_SQS, CK_DYNAMO, CK_CACHE,
       CK_EBS, CK_LB, CK_NAT, CK__COUNT };

static const cloud_kind cloud_kinds[CK__COUNT] = {
	{ "aws_instance", "vm", "AmazonEC2", "vm", 200, 4.8 },
	{ "aws_db_instance", "db", "AmazonRDS", "database", 80, 18.0 },
	{ "aws_s3_bucket", "bucket", "AmazonS3", "s3-bucket", 150, 0.9 },
	{ "aws_lambda_function", "fn", "AWSLambda", "function", 150, 0.25 },
	{ "aws_sqs_queue", "queue", "AWSQueueService", "queue", 100, 0.05 },
	{ "aws_dynamodb_table", "table", "AmazonDynamoDB", "database", 80, 2.5 },
	{ "aws_elasticache_cluster", "cache", "AmazonElastiCache", "cache", 50, 9.0 },
	{ "aws_ebs_volume", "vol", "AmazonEC2", "volume", 120, 0.6 },
	{ "aws_lb", "lb", "AWSELB", "load-balancer", 40, 0.55 },
	{ "aws_nat_gateway", "nat", "AmazonVPC", "network", 30, 1.1 },
};

static const char *const regions[] = {
	"eu-west-1", "us-east-1", "us-west-2", "ap-southeast-1",
};
static const unsigned region_weights[] = { 40, 35, 15, 10 };

/* ---- the generator context -------------------------------------------- */

typedef struct estate {
	uint32_t scale;
	uint64_t seed;

	/* sizes */
	uint32_t n_domain, n_system, n_team, n_dept, n_plat, n_user, n_service,
		n_component, n_api, n_resource, n_mono, n_cluster, n_namespace,
		n_knode, n_cloud, n_bill_extra, n_account, n_self_calls;

	/* per-team */
	uint32_t *team_ns;          /* home namespace */
	/* per-service */
	int32_t *svc_owner;         /* first owner team or -1 */
	uint32_t *svc_system;
	uint32_t *svc_rank;         /* popularity rank (0 = most called) */
	uint32_t *rank_svc;         /* inverse of svc_rank */
	uint32_t *svc_repo;         /* repo index: < n_service own, else mono */
	/* per-component */
	uint8_t *cmp_type;
	uint32_t *libs;             /* indices of library components */
	uint32_t n_libs;
	/* per-cloud resource */
	uint8_t *cloud_kind;
	uint32_t *cloud_owner;      /* owning service + 1, 0 for platform */
	uint64_t *account;          /* 12-digit account numbers */

	char days[NDAYS][11];       /* "2026-10-01" .. "2026-10-30" */

	uint32_t *stamp;            /* per-service dedup marks */
	uint32_t stamp_gen;

	zipf popularity;

	out nodes, edges, costs;
	uint64_t node_count[N__COUNT];
	uint64_t edge_count[E__COUNT];
} estate;

/* Phases, each with its own random stream. */
enum { RS_ORG = 1, RS_SERVICE, RS_K8S, RS_CALLS, RS_API, RS_CLOUD, RS_COST,
       RS_RESOURCE, RS_REPO, RS_BILLING, RS_COMPONENT, RS_CLOUD_PLAN, RS_DEPLOY };

/* ---- node and edge records -------------------------------------------- */

/* Props writer: checks that keys come in bytewise order, the canonical form. */
typedef struct pw {
	out *o;
	const char *last;
	unsigned n;
} pw;

static void pw_begin(pw *w, out *o)
{
	out_lit(o, "\"props\":{");
	w->o = o;
	w->last = NULL;
	w->n = 0;
}

static void pw_key(pw *w, const char *key)
{
	if (w->last && strcmp(w->last, key) >= 0)
		die("internal: prop '%s' after '%s' (not sorted)", key, w->last);
	w->last = key;
	if (w->n++)
		out_c(w->o, ',');
	out_jstr(w->o, key, strlen(key));
	out_c(w->o, ':');
}

static void pw_str(pw *w, const char *key, const char *val)
{
	pw_key(w, key);
	out_jstr(w->o, val, strlen(val));
}

static void pw_int(pw *w, const char *key, int64_t v)
{
	pw_key(w, key);
	out_i64(w->o, v);
}

/* A float property given as the decimal m / 10^k.  The shortest text that
 * reads back to the double nearest m / 10^k is that decimal itself (it has
 * at most 15 significant digits), and "%.*g" prints it without an exponent
 * as long as it is 0, at least 1e-4, and not an integer ending in zero. */
static void pw_float(pw *w, const char *key, uint64_t m, unsigned k)
{
	if (k > 4 || m >= 1000000000000000ull || (m && m % pow10_tab[k] == 0 &&
						    (m / pow10_tab[k]) % 10 == 0))
		die("internal: float %llu/10^%u has no plain shortest form",
		    (unsigned long long)m, k);
	pw_key(w, key);
	out_dec(w->o, m, k);
}

static void pw_ts(pw *w, const char *key, int64_t secs)
{
	char buf[21];
	format_ts(secs, buf);
	pw_str(w, key, buf);
}

/* kv holds n key/value pairs, keys in bytewise order. */
static void pw_map(pw *w, const char *key, const char *const *kv, unsigned n)
{
	pw_key(w, key);
	out_c(w->o, '{');
	for (unsigned i = 0; i < n; i++) {
		if (i) {
			if (strcmp(kv[2 * i - 2], kv[2 * i]) >= 0)
				die("internal: map key '%s' not sorted", kv[2 * i]);
			out_c(w->o, ',');
		}
		out_jstr(w->o, kv[2 * i], strlen(kv[2 * i]));
		out_c(w->o, ':');
		out_jstr(w->o, kv[2 * i + 1], strlen(kv[2 * i + 1]));
	}
	out_c(w->o, '}');
}

static void pw_list(pw *w, const char *key, const char *const *items, unsigned n)
{
	pw_key(w, key);
	out_c(w->o, '[');
	for (unsigned i = 0; i < n; i++) {
		if (i)
			out_c(w->o, ',');
		out_jstr(w->o, items[i], strlen(items[i]));
	}
	out_c(w->o, ']');
}

static void node_begin(estate *e, pw *w, const sbuf *id, enum ntype t)
{
	out *o = &e->nodes;
	if (id->n == 0 || id->n > ID_MAX)
		die("internal: bad id length %zu", id->n);
	out_lit(o, "{\"id\":");
	out_jstr(o, id->s, id->n);
	out_lit(o, ",\"type\":\"");
	out_mem(o, ntype_name[t], strlen(ntype_name[t]));
	out_lit(o, "\",");
	pw_begin(w, o);
	e->node_count[t]++;
}

static void node_end(pw *w)
{
	out_lit(w->o, "}}\n");
	w->o->records++;
}

static void edge_begin(estate *e, pw *w, const sbuf *src, const sbuf *dst,
		       enum etype t)
{
	out *o = &e->edges;
	out_lit(o, "{\"src\":");
	out_jstr(o, src->s, src->n);
	out_lit(o, ",\"dst\":");
	out_jstr(o, dst->s, dst->n);
	out_lit(o, ",\"type\":\"");
	out_mem(o, etype_name[t], strlen(etype_name[t]));
	out_lit(o, "\",");
	pw_begin(w, o);
	e->edge_count[t]++;
}

static void edge_end(pw *w)
{
	out_lit(w->o, "}}\n");
	w->o->records++;
}

static void edge(estate *e, const sbuf *src, const sbuf *dst, enum etype t)
{
	pw w;
	edge_begin(e, &w, src, dst, t);
	edge_end(&w);
}

static void edge_path(estate *e, const sbuf *src, const sbuf *dst, const char *path)
{
	pw w;
	edge_begin(e, &w, src, dst, E_DEFINED_IN);
	pw_str(&w, "path", path);
	edge_end(&w);
}

/* ---- ids and names ---------------------------------------------------- */

static const char *const domain_words[] = {
	"payments", "commerce", "identity", "logistics", "data", "platform",
	"marketing", "support", "finance", "search", "media", "risk",
};

static void domain_name(sbuf *b, uint32_t i)
{
	const uint32_t nw = (uint32_t)(sizeof(domain_words) / sizeof(domain_words[0]));
	sb_add(b, domain_words[i % nw]);
	if (i >= nw) {
		sb_add(b, "-");
		sb_num(b, i / nw, 0);
	}
}

static void id_domain(sbuf *b, uint32_t i)
{
	sb_set(b, "domain:");
	domain_name(b, i);
}

static void id_system(sbuf *b, uint32_t i)
{
	sb_set(b, "system:sys-");
	sb_num(b, i, 5);
}

static void team_name(sbuf *b, uint32_t i)
{
	sb_add(b, "t");
	sb_num(b, i, 5);
}

static void id_team(sbuf *b, uint32_t i)
{
	sb_set(b, "team:");
	team_name(b, i);
}

static void user_name(sbuf *b, uint32_t i)
{
	sb_add(b, "u");
	sb_num(b, i, 6);
}

static void id_user(sbuf *b, uint32_t i)
{
	sb_set(b, "user:");
	user_name(b, i);
}

static void svc_name(sbuf *b, uint32_t i)
{
	sb_add(b, "svc-");
	sb_num(b, i, 6);
}

static void id_service(sbuf *b, uint32_t i)
{
	sb_set(b, "service:");
	svc_name(b, i);
}

static void cmp_name(sbuf *b, uint32_t i)
{
	sb_add(b, "cmp-");
	sb_num(b, i, 6);
}

static void id_component(sbuf *b, uint32_t i)
{
	sb_set(b, "component:");
	cmp_name(b, i);
}

static void id_api(sbuf *b, uint32_t i)
{
	sb_set(b, "api:api-");
	sb_num(b, i, 6);
}

static void id_resource(sbuf *b, uint32_t i)
{
	sb_set(b, "resource:res-");
	sb_num(b, i, 6);
}

/* Repositories: [0, n_service) one per service (only those with their own
 * repo exist), [n_service, n_service + n_mono) monorepos, then one per
 * component, then the catalog repository. */
static void repo_name(const estate *e, sbuf *b, uint32_t r)
{
	if (r < e->n_service) {
		svc_name(b, r);
	} else if (r < e->n_service + e->n_mono) {
		sb_add(b, "mono-");
		sb_num(b, r - e->n_service, 3);
	} else if (r < e->n_service + e->n_mono + e->n_component) {
		cmp_name(b, r - e->n_service - e->n_mono);
	} else {
		sb_add(b, "catalog");
	}
}

static void id_repo(const estate *e, sbuf *b, uint32_t r)
{
	sb_set(b, "git:github.com/" ORG "/");
	repo_name(e, b, r);
}

static uint32_t repo_catalog(const estate *e)
{
	return e->n_service + e->n_mono + e->n_component;
}

static void cluster_name(sbuf *b, uint32_t c)
{
	sb_add(b, "c");
	sb_num(b, c + 1, 2);
}

static void ns_name(sbuf *b, uint32_t ns)
{
	sb_add(b, "ns-");
	sb_num(b, ns, 5);
}

static uint32_t ns_cluster(const estate *e, uint32_t ns)
{
	return ns % e->n_cluster;
}

static void id_cluster(sbuf *b, uint32_t c)
{
	sb_set(b, "k8s:");
	cluster_name(b, c);
}

static void id_namespace(const estate *e, sbuf *b, uint32_t ns)
{
	id_cluster(b, ns_cluster(e, ns));
	sb_add(b, "/");
	ns_name(b, ns);
}

static void knode_name(sbuf *b, uint32_t i)
{
	sb_add(b, "ip-10-");
	sb_num(b, (i >> 16) & 255, 0);
	sb_add(b, "-");
	sb_num(b, (i >> 8) & 255, 0);
	sb_add(b, "-");
	sb_num(b, i & 255, 0);
}

static void id_knode(const estate *e, sbuf *b, uint32_t i)
{
	id_cluster(b, i % e->n_cluster);
	sb_add(b, "/Node/");
	knode_name(b, i);
}

/* Namespaced Kubernetes object: k8s:CLUSTER/NS/KIND/NAME */
static void id_k8s(const estate *e, sbuf *b, uint32_t ns, const char *kind,
		   const char *name)
{
	id_namespace(e, b, ns);
	sb_add(b, "/");
	sb_add(b, kind);
	sb_add(b, "/");
	sb_add(b, name);
}

static void cloud_name(sbuf *b, uint32_t kind, uint32_t i)
{
	sb_add(b, cloud_kinds[kind].prefix);
	sb_add(b, "-");
	sb_num(b, i, 6);
}

static void id_cloud(const estate *e, sbuf *b, uint32_t i)
{
	uint32_t k = e->cloud_kind[i];
	sb_set(b, "tf:");
	sb_add(b, cloud_kinds[k].tf_type);
	sb_add(b, ".");
	cloud_name(b, k, i);
}

/* The provider-side identity of cloud resource number i (also used for
 * billing-only resources, whose numbers start at n_cloud): the ARN, the
 * cloud id and the id a billing export shows. */
typedef struct cloud_ident {
	sbuf arn, cloud_id, billing_id, name;
	const char *region;
	uint64_t account;
} cloud_ident;

static void cloud_identity(const estate *e, cloud_ident *ci, uint32_t kind,
			   uint32_t i, const char *region, uint64_t account)
{
	char acct[24];
	snprintf(acct, sizeof(acct), "%012llu", (unsigned long long)account);
	uint64_t h = mix64(((uint64_t)e->seed << 24) ^ i);
	sbuf *arn = &ci->arn, *cid = &ci->cloud_id, *bid = &ci->billing_id;
	ci->region = region;
	ci->account = account;
	ci->name.n = 0;
	cloud_name(&ci->name, kind, i);
	arn->n = cid->n = 0;

	/* arn:aws:SERVICE:REGION:ACCOUNT: */
	static const char *const svc[CK__COUNT] = {
		"ec2", "rds", "s3", "lambda", "sqs", "dynamodb", "elasticache",
		"ec2", "elasticloadbalancing", "ec2",
	};
	sb_set(arn, "arn:aws:");
	sb_add(arn, svc[kind]);
	sb_add(arn, ":");
	if (kind != CK_S3) {
		sb_add(arn, region);
		sb_add(arn, ":");
		sb_add(arn, acct);
	} else {
		sb_add(arn, ":");
	}
	sb_add(arn, ":");
	switch (kind) {
	case CK_INSTANCE:
	case CK_EBS:
	case CK_NAT:
		sb_set(cid, kind == CK_INSTANCE ? "i-0" : kind == CK_EBS ? "vol-0" : "nat-0");
		sb_hex(cid, h, 16);
		sb_add(arn, kind == CK_INSTANCE ? "instance/" : kind == CK_EBS ? "volume/" : "natgateway/");
		sb_add(arn, cid->s);
		break;
	case CK_DB:
		sb_add(cid, ci->name.s);
		sb_add(arn, "db:");
		sb_add(arn, cid->s);
		break;
	case CK_S3:
		sb_set(cid, ORG "-");
		sb_add(cid, ci->name.s);
		sb_add(arn, cid->s);
		break;
	case CK_LAMBDA:
		sb_add(cid, ci->name.s);
		sb_add(arn, "function:");
		sb_add(arn, cid->s);
		break;
	case CK_SQS:
		sb_set(cid, "https://sqs.");
		sb_add(cid, region);
		sb_add(cid, ".amazonaws.com/");
		sb_add(cid, acct);
		sb_add(cid, "/");
		sb_add(cid, ci->name.s);
		sb_add(arn, ci->name.s);
		break;
	case CK_DYNAMO:
		sb_add(cid, ci->name.s);
		sb_add(arn, "table/");
		sb_add(arn, cid->s);
		break;
	case CK_CACHE:
		sb_add(cid, ci->name.s);
		sb_add(arn, "cluster:");
		sb_add(arn, cid->s);
		break;
	default: /* CK_LB: the ARN is the id */
		sb_add(arn, "loadbalancer/app/");
		sb_add(arn, ci->name.s);
		sb_add(arn, "/");
		sb_hex(arn, h, 16);
		sb_set(cid, arn->s);
		break;
	}
	/* Billing exports name EC2 things and buckets by id, the rest by ARN. */
	sb_set(bid, "bill:aws/");
	if (kind == CK_INSTANCE || kind == CK_EBS || kind == CK_NAT || kind == CK_S3)
		sb_add(bid, cid->s);
	else
		sb_add(bid, arn->s);
}

/* ---- random property values ------------------------------------------- */

static const char *pick_lifecycle(rng *r)
{
	static const char *const v[] = { "production", "experimental", "deprecated" };
	static const unsigned wt[] = { 85, 10, 5 };
	return v[rng_pick(r, wt, 3)];
}

/* Call statistics: request_rate (1/1000 rps), error_rate (1/10000 eps, 0 for
 * a third), latency_p99_ms (1/10 ms) on most. */
static void calls_props(pw *w, rng *r, double popularity)
{
	static const char *const proto[] = { "grpc", "http", "kafka" };
	static const unsigned proto_wt[] = { 45, 45, 10 };
	double rate = rng_lognormal(r, 4.0 * popularity, 1.4);
	uint64_t rate_m = (uint64_t)(rate * 1000.0 + 0.5);
	if (rate_m < 1)
		rate_m = 1;
	if (rate_m > 100000000000ull)
		rate_m = 100000000000ull;
	uint64_t err_m = 0;
	if (!rng_chance(r, 0.35)) {
		err_m = (uint64_t)(rate * rng_lognormal(r, 0.002, 1.2) * 10000.0 + 0.5);
		if (err_m < 1)
			err_m = 1;
		if (err_m > rate_m * 10)
			err_m = rate_m * 10;
	}
	bool has_latency = rng_chance(r, 0.6);
	uint64_t lat_m = (uint64_t)(rng_lognormal(r, 40.0, 0.8) * 10.0 + 0.5);
	if (lat_m < 1)
		lat_m = 1;
	unsigned p = rng_pick(r, proto_wt, 3);

	/* Integers ending in zero would print with an exponent; nudge them. */
	if (rate_m % 1000 == 0 && (rate_m / 1000) % 10 == 0)
		rate_m++;
	if (err_m && err_m % 10000 == 0 && (err_m / 10000) % 10 == 0)
		err_m++;
	if (lat_m % 10 == 0 && (lat_m / 10) % 10 == 0)
		lat_m++;

	pw_float(w, "error_rate", err_m, 4);
	if (has_latency)
		pw_float(w, "latency_p99_ms", lat_m, 1);
	pw_str(w, "protocol", proto[p]);
	pw_float(w, "request_rate", rate_m, 3);
}

/* ---- phases ----------------------------------------------------------- */

static uint32_t random_team(const estate *e, rng *r)
{
	return e->n_dept + rng_u32(r, e->n_team - e->n_dept);
}

/* The catalog repository, domains, systems, teams and users. */
static void gen_org(estate *e)
{
	rng r;
	rng_init(&r, e->seed, RS_ORG);
	sbuf id, dst, name, tmp;
	pw w;

	/* catalog repository */
	id_repo(e, &id, repo_catalog(e));
	node_begin(e, &w, &id, N_REPO);
	pw_int(&w, "commits_90d", 180 + rng_u32(&r, 400));
	pw_str(&w, "default_branch", "main");
	pw_ts(&w, "last_commit_at", (int64_t)FIRST_DAY * 86400 - 3600 - rng_u32(&r, 86400));
	pw_str(&w, "name", "catalog");
	pw_str(&w, "url", "https://github.com/" ORG "/catalog");
	node_end(&w);
	sbuf catalog = id;

	for (uint32_t i = 0; i < e->n_domain; i++) {
		id_domain(&id, i);
		name.n = 0;
		domain_name(&name, i);
		node_begin(e, &w, &id, N_DOMAIN);
		/* A few descriptions exercise escaping and non-ASCII text. */
		sb_set(&tmp, i % 5 == 0 ? "The \"" : "All of ");
		sb_add(&tmp, name.s);
		sb_add(&tmp, i % 5 == 0 ? "\" domain \xe2\x80\x94 core business" :
					  " and its systems");
		pw_str(&w, "description", tmp.s);
		pw_str(&w, "lifecycle", "production");
		pw_str(&w, "name", name.s);
		node_end(&w);
		sb_set(&tmp, "domains/");
		sb_add(&tmp, name.s);
		sb_add(&tmp, ".yaml");
		edge_path(e, &id, &catalog, tmp.s);
		id_team(&dst, 1 + rng_u32(&r, e->n_dept - 1));
		edge(e, &dst, &id, E_OWNS);
	}

	for (uint32_t i = 0; i < e->n_system; i++) {
		id_system(&id, i);
		node_begin(e, &w, &id, N_SYSTEM);
		pw_str(&w, "lifecycle", pick_lifecycle(&r));
		name.n = 0;
		sb_add(&name, "sys-");
		sb_num(&name, i, 5);
		pw_str(&w, "name", name.s);
		uint32_t d = rng_u32(&r, e->n_domain);
		tmp.n = 0;
		domain_name(&tmp, d);
		const char *tags[2] = { tmp.s, "critical" };
		pw_list(&w, "tags", tags, rng_chance(&r, 0.15) ? 2 : 1);
		node_end(&w);
		id_domain(&dst, d);
		edge(e, &id, &dst, E_PART_OF);
		id_team(&dst, random_team(e, &r));
		edge(e, &dst, &id, E_OWNS);
		sb_set(&tmp, "systems/");
		sb_add(&tmp, name.s);
		sb_add(&tmp, ".yaml");
		edge_path(e, &id, &catalog, tmp.s);
	}

	/* Team 0 is the organisation, 1..n_dept-1 departments, then teams. */
	for (uint32_t i = 0; i < e->n_team; i++) {
		id_team(&id, i);
		name.n = 0;
		team_name(&name, i);
		node_begin(e, &w, &id, N_TEAM);
		sb_set(&tmp, name.s);
		sb_add(&tmp, "@" ORG ".example");
		pw_str(&w, "email", tmp.s);
		pw_str(&w, "group_type", i == 0 ? "organization" :
					 i < e->n_dept ? "department" : "team");
		pw_str(&w, "name", name.s);
		sb_set(&tmp, "pagerduty:P");
		sb_num(&tmp, mix64(i ^ e->seed) % 1000000, 6);
		pw_str(&w, "oncall", tmp.s);
		sb_set(&tmp, "#team-");
		sb_add(&tmp, name.s);
		pw_str(&w, "slack", tmp.s);
		if (i % 50 == 7) {
			sb_set(&tmp, "\xc3\x89quipe \"Z\xc3\xbcrich\" ");
			sb_num(&tmp, i, 0);
			pw_str(&w, "title", tmp.s);
		}
		node_end(&w);
		e->team_ns[i] = rng_u32(&r, e->n_namespace);
		if (i == 0)
			continue;
		if (i < e->n_dept) {
			id_team(&dst, 0);
			edge(e, &id, &dst, E_PART_OF);
		} else if (rng_chance(&r, 0.9)) {
			id_team(&dst, 1 + rng_u32(&r, e->n_dept - 1));
			edge(e, &id, &dst, E_PART_OF);
		}
	}

	for (uint32_t i = 0; i < e->n_user; i++) {
		id_user(&id, i);
		name.n = 0;
		user_name(&name, i);
		node_begin(e, &w, &id, N_USER);
		sb_set(&tmp, name.s);
		sb_add(&tmp, "@" ORG ".example");
		pw_str(&w, "email", tmp.s);
		pw_str(&w, "name", name.s);
		if (i % 20 == 3) {
			const char *tags[] = { "admin" };
			pw_list(&w, "tags", tags, 1);
		}
		node_end(&w);
		uint32_t t1 = rng_chance(&r, 0.05) ? 1 + rng_u32(&r, e->n_dept - 1) :
						     random_team(e, &r);
		id_team(&dst, t1);
		edge(e, &id, &dst, E_MEMBER_OF);
		if (rng_chance(&r, 0.25)) {
			uint32_t t2 = random_team(e, &r);
			if (t2 != t1) {
				id_team(&dst, t2);
				edge(e, &id, &dst, E_MEMBER_OF);
			}
		}
	}
}

/* A repository node for repo index ri. */
static void gen_repo(estate *e, rng *r, uint32_t ri)
{
	sbuf id, name, url;
	pw w;
	id_repo(e, &id, ri);
	name.n = 0;
	repo_name(e, &name, ri);
	sb_set(&url, "https://github.com/" ORG "/");
	sb_add(&url, name.s);
	node_begin(e, &w, &id, N_REPO);
	pw_int(&w, "commits_90d", (int64_t)rng_lognormal(r, 40.0, 1.2));
	pw_str(&w, "default_branch", rng_chance(r, 0.9) ? "main" : "master");
	/* last commit within the 120 days before the first cost day */
	pw_ts(&w, "last_commit_at", (int64_t)FIRST_DAY * 86400 -
	      (int64_t)rng_below(r, 120ull * 86400) - 1);
	pw_str(&w, "name", name.s);
	sbuf a[3];
	const char *authors[3];
	unsigned n = rng_range(r, 1, 3);
	for (unsigned k = 0; k < n; k++) {
		a[k].n = 0;
		user_name(&a[k], rng_u32(r, e->n_user));
		authors[k] = a[k].s;
	}
	pw_list(&w, "top_authors", authors, n);
	pw_str(&w, "url", url.s);
	node_end(&w);
}

/* Deployments (with replica sets, pods, Kubernetes services, ingresses) of
 * service i in namespace ns. */
static void gen_deployment(estate *e, rng *r, uint32_t svc, uint32_t ns)
{
	static const unsigned replica_wt[] = { 0, 72, 20, 5, 0, 3 };
	sbuf dep, rs, nsid, dst, name, cl, nsn, image, tmp;
	pw w;
	uint32_t c = ns_cluster(e, ns);
	cl.n = 0;
	cluster_name(&cl, c);
	nsn.n = 0;
	ns_name(&nsn, ns);
	name.n = 0;
	svc_name(&name, svc);
	id_namespace(e, &nsid, ns);
	sb_set(&image, "ghcr.io/" ORG "/");
	sb_add(&image, name.s);
	sb_add(&image, ":1.");
	sb_num(&image, rng_u32(r, 40), 0);
	sb_add(&image, ".");
	sb_num(&image, rng_u32(r, 20), 0);
	unsigned replicas = rng_pick(r, replica_wt, 6);

	id_k8s(e, &dep, ns, "Deployment", name.s);
	node_begin(e, &w, &dep, N_DEPLOYMENT);
	pw_str(&w, "cluster", cl.s);
	pw_str(&w, "image", image.s);
	pw_str(&w, "name", name.s);
	pw_str(&w, "namespace", nsn.s);
	pw_int(&w, "replicas", replicas);
	uint64_t u1 = rng_next(r), u2 = rng_next(r);
	tmp.n = 0;
	sb_hex(&tmp, u1 >> 32, 8);
	sb_add(&tmp, "-");
	sb_hex(&tmp, u1 >> 16, 4);
	sb_add(&tmp, "-4");
	sb_hex(&tmp, u1, 3);
	sb_add(&tmp, "-");
	sb_hex(&tmp, (u2 >> 48 & 0x3fff) | 0x8000, 4);
	sb_add(&tmp, "-");
	sb_hex(&tmp, u2, 12);
	pw_str(&w, "uid", tmp.s);
	node_end(&w);
	id_service(&dst, svc);
	edge(e, &dep, &dst, E_RUNS);
	edge(e, &dep, &nsid, E_SCOPED_IN);

	/* current replica set, and sometimes an old one scaled to zero */
	unsigned n_rs = rng_chance(r, 0.2) ? 2 : 1;
	sbuf hash[2];
	for (unsigned k = 0; k < n_rs; k++) {
		do {
			sb_set(&hash[k], name.s);
			sb_add(&hash[k], "-");
			sb_kname(&hash[k], r, 9);
		} while (k == 1 && strcmp(hash[0].s, hash[1].s) == 0);
		id_k8s(e, &rs, ns, "ReplicaSet", hash[k].s);
		node_begin(e, &w, &rs, N_REPLICASET);
		pw_str(&w, "cluster", cl.s);
		pw_str(&w, "image", image.s);
		pw_str(&w, "name", hash[k].s);
		pw_str(&w, "namespace", nsn.s);
		pw_int(&w, "replicas", k == 0 ? replicas : 0);
		node_end(&w);
		edge(e, &rs, &dep, E_CONTROLLED_BY);
		edge(e, &rs, &nsid, E_SCOPED_IN);
		if (k != 0)
			continue;

		/* pods of the current replica set, on nodes of the cluster */
		uint32_t nodes_here = (e->n_knode - c + e->n_cluster - 1) / e->n_cluster;
		sbuf pods[5];
		for (unsigned p = 0; p < replicas; p++) {
			bool dup;
			do {
				sb_set(&pods[p], hash[0].s);
				sb_add(&pods[p], "-");
				sb_kname(&pods[p], r, 5);
				dup = false;
				for (unsigned q = 0; q < p; q++)
					dup |= strcmp(pods[q].s, pods[p].s) == 0;
			} while (dup);
			uint32_t kn = c + e->n_cluster * rng_u32(r, nodes_here);
			tmp.n = 0;
			knode_name(&tmp, kn);
			static const char *const phase[] = { "Running", "Pending", "Failed" };
			static const unsigned phase_wt[] = { 97, 2, 1 };
			sbuf pod;
			id_k8s(e, &pod, ns, "Pod", pods[p].s);
			node_begin(e, &w, &pod, N_POD);
			pw_str(&w, "cluster", cl.s);
			pw_str(&w, "image", image.s);
			pw_str(&w, "name", pods[p].s);
			pw_str(&w, "namespace", nsn.s);
			pw_str(&w, "node_name", tmp.s);
			pw_str(&w, "phase", phase[rng_pick(r, phase_wt, 3)]);
			node_end(&w);
			edge(e, &pod, &rs, E_CONTROLLED_BY);
			id_knode(e, &dst, kn);
			edge(e, &pod, &dst, E_RUNS_ON);
			edge(e, &pod, &nsid, E_SCOPED_IN);
		}
	}

	if (!rng_chance(r, 0.8))
		return;
	sbuf ksvc;
	id_k8s(e, &ksvc, ns, "Service", name.s);
	bool lb = rng_chance(r, 0.08);
	node_begin(e, &w, &ksvc, N_KSERVICE);
	pw_str(&w, "cluster", cl.s);
	pw_str(&w, "name", name.s);
	pw_str(&w, "namespace", nsn.s);
	const char *selector[] = { "app", name.s };
	pw_map(&w, "selector", selector, 1);
	pw_str(&w, "service_type", lb ? "LoadBalancer" : "ClusterIP");
	node_end(&w);
	edge(e, &ksvc, &dep, E_SELECTS);
	edge(e, &ksvc, &nsid, E_SCOPED_IN);

	if (!rng_chance(r, 0.05))
		return;
	sbuf ing, host;
	id_k8s(e, &ing, ns, "Ingress", name.s);
	sb_set(&host, name.s);
	sb_add(&host, "." ORG ".example");
	sb_set(&tmp, "api.");
	sb_add(&tmp, host.s);
	const char *hosts[] = { host.s, tmp.s };
	node_begin(e, &w, &ing, N_INGRESS);
	pw_str(&w, "cluster", cl.s);
	pw_list(&w, "hosts", hosts, rng_chance(r, 0.3) ? 2 : 1);
	pw_str(&w, "name", name.s);
	pw_str(&w, "namespace", nsn.s);
	node_end(&w);
	edge(e, &ing, &ksvc, E_ROUTES_TO);
	edge(e, &ing, &nsid, E_SCOPED_IN);
}

/* Clusters, namespaces and Kubernetes nodes. */
static void gen_k8s_infra(estate *e)
{
	rng r;
	rng_init(&r, e->seed, RS_K8S);
	sbuf id, dst, name, tmp;
	pw w;
	static const char *const versions[] = { "v1.28.9", "v1.29.4", "v1.30.2" };
	for (uint32_t c = 0; c < e->n_cluster; c++) {
		id_cluster(&id, c);
		name.n = 0;
		cluster_name(&name, c);
		node_begin(e, &w, &id, N_CLUSTER);
		const char *region = regions[c % 4];
		const char *labels[] = { "env", c % 7 == 1 ? "staging" : "prod",
					 "region", region };
		pw_map(&w, "labels", labels, 2);
		pw_str(&w, "name", name.s);
		sb_set(&tmp, "https://");
		sb_add(&tmp, name.s);
		sb_add(&tmp, ".k8s." ORG ".example:6443");
		pw_str(&w, "server", tmp.s);
		pw_str(&w, "version", versions[rng_u32(&r, 3)]);
		node_end(&w);
	}
	for (uint32_t ns = 0; ns < e->n_namespace; ns++) {
		id_namespace(e, &id, ns);
		name.n = 0;
		cluster_name(&name, ns_cluster(e, ns));
		node_begin(e, &w, &id, N_NAMESPACE);
		pw_str(&w, "cluster", name.s);
		tmp.n = 0;
		team_name(&tmp, random_team(e, &r));
		const char *labels[] = { "team", tmp.s };
		pw_map(&w, "labels", labels, 1);
		name.n = 0;
		ns_name(&name, ns);
		pw_str(&w, "name", name.s);
		node_end(&w);
		id_cluster(&dst, ns_cluster(e, ns));
		edge(e, &id, &dst, E_SCOPED_IN);
	}
	/* Kubernetes node i runs on cloud resource i (an aws_instance). */
	static const char *const itypes[] = { "m5.xlarge", "m5.2xlarge", "c6i.4xlarge", "r6i.2xlarge" };
	for (uint32_t i = 0; i < e->n_knode; i++) {
		uint32_t c = i % e->n_cluster;
		cloud_ident ci;
		const char *region = regions[c % 4];
		cloud_identity(e, &ci, CK_INSTANCE, i, region, e->account[c % e->n_account]);
		id_knode(e, &id, i);
		name.n = 0;
		cluster_name(&name, c);
		node_begin(e, &w, &id, N_KNODE);
		pw_str(&w, "cluster", name.s);
		pw_str(&w, "instance_type", itypes[rng_u32(&r, 4)]);
		tmp.n = 0;
		knode_name(&tmp, i);
		pw_str(&w, "name", tmp.s);
		char zone[32];
		snprintf(zone, sizeof(zone), "%s%c", region, 'a' + (int)rng_u32(&r, 3));
		sb_set(&tmp, "aws:///");
		sb_add(&tmp, zone);
		sb_add(&tmp, "/");
		sb_add(&tmp, ci.cloud_id.s);
		pw_str(&w, "provider_id", tmp.s);
		pw_str(&w, "zone", zone);
		node_end(&w);
		id_cluster(&dst, c);
		edge(e, &id, &dst, E_SCOPED_IN);
		id_cloud(e, &dst, i);
		edge(e, &id, &dst, E_RUNS_ON);
	}
}

/* Services: node, system, owners, repository, deployments, libraries. */
static void gen_services(estate *e)
{
	static const char *const langs[] = { "go", "java", "python", "typescript", "rust", "kotlin" };
	static const unsigned lang_wt[] = { 30, 25, 20, 15, 5, 5 };
	rng r, rr, rk;
	rng_init(&r, e->seed, RS_SERVICE);
	rng_init(&rr, e->seed, RS_REPO);
	rng_init(&rk, e->seed, RS_DEPLOY);
	sbuf id, dst, name, tmp, cc, tier_s;
	pw w;

	/* popularity ranks: a random permutation */
	for (uint32_t i = 0; i < e->n_service; i++)
		e->rank_svc[i] = i;
	for (uint32_t i = e->n_service; i > 1; i--) {
		uint32_t j = rng_u32(&r, i);
		uint32_t t = e->rank_svc[i - 1];
		e->rank_svc[i - 1] = e->rank_svc[j];
		e->rank_svc[j] = t;
	}
	for (uint32_t k = 0; k < e->n_service; k++)
		e->svc_rank[e->rank_svc[k]] = k;

	for (uint32_t i = 0; i < e->n_service; i++) {
		uint32_t rank = e->svc_rank[i];
		unsigned tier = rank < e->n_service / 100 ? 1 : rank < e->n_service / 10 ? 2 :
				rank < e->n_service / 2 ? 3 : 4;
		/* ~2% unowned, ~1% with two (conflicting) owners */
		double u = rng_unit(&r);
		int32_t owner = u < 0.02 ? -1 : (int32_t)random_team(e, &r);
		int32_t owner2 = -1;
		if (u >= 0.02 && u < 0.03) {
			owner2 = (int32_t)random_team(e, &r);
			if (owner2 == owner)
				owner2 = (int32_t)(e->n_dept + ((uint32_t)owner - e->n_dept + 1) %
							     (e->n_team - e->n_dept));
			if (owner2 == owner)
				owner2 = -1;
		}
		e->svc_owner[i] = owner;
		e->svc_system[i] = rng_u32(&r, e->n_system);

		id_service(&id, i);
		name.n = 0;
		svc_name(&name, i);
		node_begin(e, &w, &id, N_SERVICE);
		sb_set(&cc, "cc-");
		sb_num(&cc, e->svc_system[i] % 1000, 3);
		tmp.n = 0;
		if (owner >= 0)
			team_name(&tmp, (uint32_t)owner);
		const char *labels[] = { "cost-center", cc.s, "team", tmp.s };
		pw_map(&w, "labels", labels, owner >= 0 ? 2 : 1);
		const char *lang = langs[rng_pick(&r, lang_wt, 6)];
		pw_str(&w, "language", lang);
		pw_str(&w, "lifecycle", pick_lifecycle(&r));
		pw_str(&w, "name", name.s);
		sb_set(&tier_s, "tier-");
		sb_num(&tier_s, tier, 0);
		const char *tags[] = { lang, tier_s.s, "pci" };
		pw_list(&w, "tags", tags, rng_chance(&r, 0.05) ? 3 : 2);
		pw_int(&w, "tier", tier);
		node_end(&w);

		id_system(&dst, e->svc_system[i]);
		edge(e, &id, &dst, E_PART_OF);
		if (owner >= 0) {
			id_team(&dst, (uint32_t)owner);
			edge(e, &dst, &id, E_OWNS);
		}
		if (owner2 >= 0) {
			id_team(&dst, (uint32_t)owner2);
			edge(e, &dst, &id, E_OWNS);
		}

		/* 65% have their own repository, the rest live in a monorepo */
		if (rng_chance(&rr, 0.65)) {
			e->svc_repo[i] = i;
			gen_repo(e, &rr, i);
			id_repo(e, &dst, i);
			edge_path(e, &id, &dst, "catalog-info.yaml");
		} else {
			e->svc_repo[i] = e->n_service + rng_u32(&rr, e->n_mono);
			id_repo(e, &dst, e->svc_repo[i]);
			sb_set(&tmp, "services/");
			sb_add(&tmp, name.s);
			sb_add(&tmp, "/catalog-info.yaml");
			edge_path(e, &id, &dst, tmp.s);
		}

		/* 97% deployed; 5% of those also in a second cluster */
		if (rng_chance(&rk, 0.97)) {
			uint32_t ns = owner >= 0 && rng_chance(&rk, 0.85) ?
				e->team_ns[owner] : rng_u32(&rk, e->n_namespace);
			gen_deployment(e, &rk, i, ns);
			if (rng_chance(&rk, 0.05)) {
				uint32_t ns2 = rng_u32(&rk, e->n_namespace);
				if (ns_cluster(e, ns2) == ns_cluster(e, ns))
					ns2 = (ns2 + 1) % e->n_namespace;
				if (ns_cluster(e, ns2) != ns_cluster(e, ns))
					gen_deployment(e, &rk, i, ns2);
			}
		}

		/* shared libraries */
		if (e->n_libs) {
			unsigned nl = rng_u32(&r, 4);
			uint32_t got[3];
			for (unsigned k = 0; k < nl; k++) {
				uint32_t l = e->libs[rng_u32(&r, e->n_libs)];
				bool dup = false;
				for (unsigned q = 0; q < k; q++)
					dup |= got[q] == l;
				got[k] = l;
				if (dup)
					continue;
				id_component(&dst, l);
				edge(e, &id, &dst, E_DEPENDS_ON);
			}
		}
	}

	for (uint32_t m = 0; m < e->n_mono; m++)
		gen_repo(e, &rr, e->n_service + m);
}

/* Components: websites, libraries, batch jobs, pipelines, tools. */
static void gen_components(estate *e)
{
	static const char *const types[] = { "website", "library", "batch", "data-pipeline", "tool" };
	static const unsigned type_wt[] = { 20, 35, 15, 15, 15 };
	rng r;
	rng_init(&r, e->seed, RS_COMPONENT);
	sbuf id, dst, name;
	pw w;
	for (uint32_t i = 0; i < e->n_component; i++) {
		unsigned t = rng_pick(&r, type_wt, 5);
		e->cmp_type[i] = (uint8_t)t;
		if (t == 1)
			e->libs[e->n_libs++] = i;
		id_component(&id, i);
		name.n = 0;
		cmp_name(&name, i);
		node_begin(e, &w, &id, N_COMPONENT);
		pw_str(&w, "component_type", types[t]);
		pw_str(&w, "lifecycle", pick_lifecycle(&r));
		pw_str(&w, "name", name.s);
		node_end(&w);
		id_system(&dst, rng_u32(&r, e->n_system));
		edge(e, &id, &dst, E_PART_OF);
		if (rng_chance(&r, 0.1)) {
			id_user(&dst, rng_u32(&r, e->n_user));
		} else {
			id_team(&dst, random_team(e, &r));
		}
		edge(e, &dst, &id, E_OWNS);
		uint32_t ri = e->n_service + e->n_mono + i;
		gen_repo(e, &r, ri);
		id_repo(e, &dst, ri);
		edge_path(e, &id, &dst, "catalog-info.yaml");
	}
}

/* Draws n distinct popular services (not `self`) for caller stamp gen, and
 * emits edges of type t from src to them. */
static void link_popular(estate *e, rng *r, const sbuf *src, int64_t self,
			 unsigned n, enum etype t)
{
	sbuf dst;
	pw w;
	uint32_t gen = ++e->stamp_gen;
	unsigned made = 0, tries = 0;
	while (made < n && tries < 8 * n + 16) {
		tries++;
		uint32_t rank = zipf_draw(&e->popularity, r);
		uint32_t s = e->rank_svc[rank];
		if ((int64_t)s == self || e->stamp[s] == gen)
			continue;
		e->stamp[s] = gen;
		made++;
		id_service(&dst, s);
		edge_begin(e, &w, src, &dst, t);
		if (t == E_CALLS) {
			/* popular callees see more traffic */
			double pop = rank < 100 ? 4.0 : rank < 1000 ? 2.0 : 1.0;
			calls_props(&w, r, pop);
		}
		edge_end(&w);
	}
}

/* Runtime calls and declared dependencies between services. */
static void gen_calls(estate *e)
{
	rng r;
	rng_init(&r, e->seed, RS_CALLS);
	sbuf id;
	uint32_t max_out = e->n_service - 1 < 4000 ? e->n_service - 1 : 4000;
	for (uint32_t i = 0; i < e->n_service; i++) {
		id_service(&id, i);
		unsigned d = 0;
		if (!rng_chance(&r, 0.08)) {
			double x = rng_lognormal(&r, 20.0, 1.0);
			d = x < 1.0 ? 1 : x > max_out ? max_out : (unsigned)(x + 0.5);
		}
		link_popular(e, &r, &id, i, d, E_CALLS);
		unsigned deps = rng_pick(&r, (const unsigned[]){ 25, 30, 25, 12, 8 }, 5);
		link_popular(e, &r, &id, i, deps < max_out ? deps : max_out, E_DEPENDS_ON);
	}
	/* a handful of self-calls (retries through a queue, say) */
	for (uint32_t k = 0; k < e->n_self_calls; k++) {
		uint32_t s = (uint32_t)(((uint64_t)k * 7919u + mix64(e->seed) % e->n_service) %
					e->n_service);
		pw w;
		id_service(&id, s);
		edge_begin(e, &w, &id, &id, E_CALLS);
		calls_props(&w, &r, 1.0);
		edge_end(&w);
	}
	/* websites, batch jobs and pipelines call services too */
	for (uint32_t c = 0; c < e->n_component; c++) {
		if (e->cmp_type[c] == 1 || e->cmp_type[c] == 4)
			continue;
		id_component(&id, c);
		link_popular(e, &r, &id, -1, rng_range(&r, 2, 12), E_CALLS);
	}
}

/* APIs: provided by one service, consumed by several services and sites. */
static void gen_apis(estate *e)
{
	static const char *const api_types[] = { "openapi", "grpc", "asyncapi", "graphql" };
	static const unsigned api_wt[] = { 60, 25, 10, 5 };
	rng r;
	rng_init(&r, e->seed, RS_API);
	sbuf id, dst, name, tmp;
	pw w;
	for (uint32_t i = 0; i < e->n_api; i++) {
		uint32_t prov = rng_u32(&r, e->n_service);
		id_api(&id, i);
		name.n = 0;
		svc_name(&name, prov);
		sb_add(&name, "-api-");
		sb_num(&name, i, 0);
		node_begin(e, &w, &id, N_API);
		pw_str(&w, "api_type", api_types[rng_pick(&r, api_wt, 4)]);
		pw_str(&w, "lifecycle", pick_lifecycle(&r));
		pw_str(&w, "name", name.s);
		node_end(&w);
		id_system(&dst, e->svc_system[prov]);
		edge(e, &id, &dst, E_PART_OF);
		id_service(&dst, prov);
		edge(e, &dst, &id, E_PROVIDES_API);
		id_repo(e, &dst, e->svc_repo[prov]);
		sb_set(&tmp, "api/");
		sb_add(&tmp, name.s);
		sb_add(&tmp, ".yaml");
		edge_path(e, &id, &dst, tmp.s);

		unsigned nc = rng_range(&r, 1, 8);
		uint32_t gen = ++e->stamp_gen;
		e->stamp[prov] = gen;
		for (unsigned k = 0; k < nc; k++) {
			uint32_t s = rng_u32(&r, e->n_service);
			if (e->stamp[s] == gen)
				continue;
			e->stamp[s] = gen;
			id_service(&dst, s);
			edge(e, &dst, &id, E_CONSUMES_API);
		}
		if (rng_chance(&r, 0.2)) {
			uint32_t c = rng_u32(&r, e->n_component);
			if (e->cmp_type[c] == 0) {
				id_component(&dst, c);
				edge(e, &dst, &id, E_CONSUMES_API);
			}
		}
	}
}

/* Cost facts of one billed resource for the 30 days. */
static void gen_costs(estate *e, rng *r, const sbuf *res, double median_usd)
{
	double base = rng_lognormal(r, median_usd, 1.0);
	int first = rng_chance(r, 0.04) ? (int)rng_u32(r, NDAYS) : 0;
	int last = rng_chance(r, 0.03) ? first + (int)rng_u32(r, (uint32_t)(NDAYS - first)) :
					 NDAYS - 1;
	const char *currency = rng_chance(r, 0.03) ? "EUR" : "USD";
	bool marketplace = currency[0] == 'U' && rng_chance(r, 0.005);
	bool cents = rng_chance(r, 0.10);
	out *o = &e->costs;

	for (int d = first; d <= last; d++) {
		for (int line = 0; line < (marketplace ? 2 : 1); line++) {
			double x = base * (0.9 + 0.2 * rng_unit(r));
			if (line)
				x *= 0.1;
			int64_t amount = (int64_t)(x * 1e6 + 0.5);
			if (cents)
				amount = (amount + 5000) / 10000 * 10000;
			int64_t billed = amount;
			double u = rng_unit(r);
			if (u < 0.005) {
				amount = -(int64_t)(x * 1e6 * (0.5 + 2.5 * rng_unit(r)));
				billed = amount;
			} else if (u < 0.008) {
				amount = 0;   /* free tier: list price only */
			} else if (u < 0.048) {
				billed = (int64_t)((double)amount * (1.05 + 0.3 * rng_unit(r)));
			}
			out_lit(o, "{\"resource\":");
			out_jstr(o, res->s, res->n);
			out_lit(o, ",\"day\":\"");
			out_mem(o, e->days[d], 10);
			out_lit(o, "\",\"amount\":");
			out_money(o, amount);
			out_lit(o, ",\"currency\":\"");
			out_mem(o, line ? "EUR" : currency, 3);
			out_lit(o, "\"");
			if (billed != amount) {
				out_lit(o, ",\"billed\":");
				out_money(o, billed);
			}
			out_lit(o, "}\n");
			o->records++;
		}
	}
}

static void billed_to(estate *e, const sbuf *src, int64_t svc, int64_t team, bool tagged)
{
	sbuf dst, ev;
	pw w;
	if (svc >= 0)
		id_service(&dst, (uint32_t)svc);
	else
		id_team(&dst, (uint32_t)team);
	edge_begin(e, &w, src, &dst, E_BILLED_TO);
	if (tagged) {
		sb_set(&ev, svc >= 0 ? "tag service=" : "tag team=");
		sb_add(&ev, dst.s + (svc >= 0 ? 8 : 5));
		pw_str(&w, "evidence", ev.s);
		pw_str(&w, "rule", "cost-allocation-tag");
	}
	edge_end(&w);
}

static void gen_billing_node(estate *e, const sbuf *bid, const cloud_ident *ci,
			     uint32_t kind)
{
	char acct[24];
	pw w;
	snprintf(acct, sizeof(acct), "%012llu", (unsigned long long)ci->account);
	node_begin(e, &w, bid, N_BILLING);
	pw_str(&w, "account", acct);
	pw_str(&w, "name", ci->name.s);
	pw_str(&w, "region", ci->region);
	pw_str(&w, "resource_id", bid->s + 9);
	pw_str(&w, "service_name", cloud_kinds[kind].service_name);
	node_end(&w);
}

/* Kind and owning service of every cloud resource, decided before anything
 * refers to them.  The first n_knode are the Kubernetes nodes' instances. */
static void plan_cloud(estate *e)
{
	rng r;
	rng_init(&r, e->seed, RS_CLOUD_PLAN);
	unsigned kind_wt[CK__COUNT];
	for (unsigned k = 0; k < CK__COUNT; k++)
		kind_wt[k] = cloud_kinds[k].weight;
	for (uint32_t i = 0; i < e->n_cloud; i++) {
		bool knode = i < e->n_knode;
		e->cloud_kind[i] = (uint8_t)(knode ? CK_INSTANCE : rng_pick(&r, kind_wt, CK__COUNT));
		e->cloud_owner[i] = knode || rng_chance(&r, 0.15) ? 0 :
				    1 + rng_u32(&r, e->n_service);
	}
}

/* Cloud resources, their billing twins, attribution and costs. */
static void gen_cloud(estate *e)
{
	rng r, rc, rb;
	rng_init(&r, e->seed, RS_CLOUD);
	rng_init(&rc, e->seed, RS_COST);
	rng_init(&rb, e->seed, RS_BILLING);
	unsigned kind_wt[CK__COUNT];
	for (unsigned k = 0; k < CK__COUNT; k++)
		kind_wt[k] = cloud_kinds[k].weight;

	sbuf id, dst;
	pw w;
	for (uint32_t i = 0; i < e->n_cloud; i++) {
		uint32_t kind = e->cloud_kind[i];
		bool knode = i < e->n_knode;
		const char *region = knode ? regions[i % e->n_cluster % 4] :
					     regions[rng_pick(&r, region_weights, 4)];
		uint64_t account = knode ? e->account[i % e->n_cluster % e->n_account] :
					   e->account[rng_u32(&r, e->n_account)];
		cloud_ident ci;
		cloud_identity(e, &ci, kind, i, region, account);
		id_cloud(e, &id, i);
		node_begin(e, &w, &id, N_CLOUD);
		pw_str(&w, "arn", ci.arn.s);
		pw_str(&w, "cloud_id", ci.cloud_id.s);
		uint32_t owner = e->cloud_owner[i];
		sbuf mod;
		if (owner && rng_chance(&r, 0.5)) {
			sb_set(&mod, "module.");
			svc_name(&mod, owner - 1);
			mod.s[7 + 3] = '_';   /* svc-000123 -> svc_000123 */
			pw_str(&w, "module", mod.s);
		}
		pw_str(&w, "name", ci.name.s);
		pw_str(&w, "region", region);
		pw_str(&w, "resource_type", cloud_kinds[kind].tf_type);
		node_end(&w);

		/* who needs it */
		uint32_t gen = ++e->stamp_gen;
		if (owner) {
			e->stamp[owner - 1] = gen;
			id_service(&dst, owner - 1);
			edge(e, &dst, &id, E_DEPENDS_ON);
		}
		if (!knode && rng_chance(&r, 0.12)) {
			unsigned n = rng_range(&r, 1, 3);
			for (unsigned k = 0; k < n; k++) {
				uint32_t s = rng_u32(&r, e->n_service);
				if (e->stamp[s] == gen)
					continue;
				e->stamp[s] = gen;
				id_service(&dst, s);
				edge(e, &dst, &id, E_DEPENDS_ON);
			}
		}
		/* what it needs (Terraform dependencies) */
		if (!knode && rng_chance(&r, 0.3)) {
			unsigned n = rng_range(&r, 1, 2);
			uint32_t first = UINT32_MAX;
			for (unsigned k = 0; k < n; k++) {
				uint32_t t = rng_u32(&r, e->n_cloud);
				if (t == i || t == first)
					continue;
				first = t;
				id_cloud(e, &dst, t);
				edge(e, &id, &dst, E_DEPENDS_ON);
			}
		}

		/* attribution: ~4% none */
		int64_t to_svc = -1, to_team = -1;
		if (!rng_chance(&r, 0.04)) {
			if (owner)
				to_svc = owner - 1;
			else
				to_team = knode ? e->n_dept + i % e->n_plat : random_team(e, &r);
		}
		bool tagged = rng_chance(&r, 0.5);
		/* cost comes only from the billing export (the twin below), never
		 * from Terraform, so a matched pair is not counted twice */
		if (to_svc >= 0 || to_team >= 0)
			billed_to(e, &id, to_svc, to_team, tagged);

		/* ~90% show up in the billing export, matched by ARN or id */
		if (rng_chance(&rb, 0.9)) {
			sbuf bid = ci.billing_id;
			gen_billing_node(e, &bid, &ci, kind);
			edge_begin(e, &w, &bid, &id, E_SAME_AS);
			pw_str(&w, "rule", kind == CK_INSTANCE || kind == CK_EBS ||
				   kind == CK_NAT || kind == CK_S3 ? "cloud-id" : "arn");
			edge_end(&w);
			if (to_svc >= 0 || to_team >= 0)
				billed_to(e, &bid, to_svc, to_team, tagged);
			gen_costs(e, &rc, &bid, cloud_kinds[kind].median_usd);
		}
	}

	/* billing-only resources: nothing in Terraform matches them */
	for (uint32_t j = 0; j < e->n_bill_extra; j++) {
		uint32_t kind = rng_pick(&rb, kind_wt, CK__COUNT);
		const char *region = regions[rng_pick(&rb, region_weights, 4)];
		cloud_ident ci;
		cloud_identity(e, &ci, kind, e->n_cloud + j, region,
			       e->account[rng_u32(&rb, e->n_account)]);
		sbuf bid = ci.billing_id;
		gen_billing_node(e, &bid, &ci, kind);
		double u = rng_unit(&rb);
		if (u < 0.35)
			billed_to(e, &bid, -1, random_team(e, &rb), false);
		else if (u < 0.7)
			billed_to(e, &bid, rng_u32(&rb, e->n_service), -1, true);
		gen_costs(e, &rc, &bid, cloud_kinds[kind].median_usd);
	}
}

/* Catalog resources: realised by a cloud resource, needed by services. */
static void gen_resources(estate *e)
{
	rng r;
	rng_init(&r, e->seed, RS_RESOURCE);
	sbuf id, dst, name;
	pw w;
	for (uint32_t i = 0; i < e->n_resource; i++) {
		uint32_t cr = e->n_knode + rng_u32(&r, e->n_cloud - e->n_knode);
		id_resource(&id, i);
		name.n = 0;
		sb_add(&name, "res-");
		sb_num(&name, i, 6);
		node_begin(e, &w, &id, N_RESOURCE);
		pw_str(&w, "name", name.s);
		pw_str(&w, "resource_type", cloud_kinds[e->cloud_kind[cr]].catalog_type);
		node_end(&w);
		id_system(&dst, rng_u32(&r, e->n_system));
		edge(e, &id, &dst, E_PART_OF);
		id_team(&dst, random_team(e, &r));
		edge(e, &dst, &id, E_OWNS);
		id_cloud(e, &dst, cr);
		edge(e, &dst, &id, E_RUNS);
		unsigned n = rng_range(&r, 1, 4);
		uint32_t gen = ++e->stamp_gen;
		for (unsigned k = 0; k < n; k++) {
			uint32_t s = rng_u32(&r, e->n_service);
			if (e->stamp[s] == gen)
				continue;
			e->stamp[s] = gen;
			id_service(&dst, s);
			edge(e, &dst, &id, E_DEPENDS_ON);
		}
	}
}

/* ---- driver ----------------------------------------------------------- */

static void estate_size(estate *e, uint32_t s)
{
	e->scale = s;
	e->n_domain = 5 + s / 4;
	e->n_system = 30 * s;
	e->n_team = 50 * s;
	e->n_dept = 1 + (e->n_team / 12 > 2 ? e->n_team / 12 : 2);
	e->n_plat = 2 + s / 10;
	e->n_user = 200 * s;
	e->n_service = 1000 * s;
	e->n_component = 160 * s;
	e->n_api = 300 * s;
	e->n_resource = 60 * s;
	e->n_mono = 5 * s;
	e->n_cluster = 3 + s / 5;
	e->n_namespace = 40 * s;
	e->n_knode = 80 * s;
	e->n_cloud = 1900 * s;
	e->n_bill_extra = 2000 * s; /* keeps ~110k cost facts per unit of S */
	e->n_account = 4 + s / 10;
	e->n_self_calls = 3 + s / 25;
}

static void estate_alloc(estate *e)
{
	e->team_ns = xcalloc(e->n_team, sizeof(uint32_t));
	e->svc_owner = xcalloc(e->n_service, sizeof(int32_t));
	e->svc_system = xcalloc(e->n_service, sizeof(uint32_t));
	e->svc_rank = xcalloc(e->n_service, sizeof(uint32_t));
	e->rank_svc = xcalloc(e->n_service, sizeof(uint32_t));
	e->svc_repo = xcalloc(e->n_service, sizeof(uint32_t));
	e->cmp_type = xcalloc(e->n_component, 1);
	e->libs = xcalloc(e->n_component, sizeof(uint32_t));
	e->cloud_kind = xcalloc(e->n_cloud, 1);
	e->cloud_owner = xcalloc(e->n_cloud, sizeof(uint32_t));
	e->account = xcalloc(e->n_account, sizeof(uint64_t));
	e->stamp = xcalloc(e->n_service, sizeof(uint32_t));
	for (int d = 0; d < NDAYS; d++)
		format_day(FIRST_DAY + d, e->days[d]);
	for (uint32_t a = 0; a < e->n_account; a++)
		e->account[a] = 100000000000ull + mix64(e->seed * 31 + a) % 900000000000ull;
	/* callee popularity: Zipf-Mandelbrot, exponent 1.1, offset 8 */
	zipf_init(&e->popularity, e->n_service, 1.1, 8.0);
}

static void estate_free(estate *e)
{
	free(e->team_ns);
	free(e->svc_owner);
	free(e->svc_system);
	free(e->svc_rank);
	free(e->rank_svc);
	free(e->svc_repo);
	free(e->cmp_type);
	free(e->libs);
	free(e->cloud_kind);
	free(e->cloud_owner);
	free(e->account);
	free(e->stamp);
	free(e->popularity.cdf);
}

/* mkdir -p */
static int make_dirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0777) != 0 && errno != EEXIST)
			return -errno;
		buf[i] = c;
	}
	struct stat st;
	if (stat(path, &st) != 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static void out_open(out *o, const char *dir, const char *file, char *path, size_t cap)
{
	int n = snprintf(path, cap, "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= cap)
		die("output path too long");
	memset(o, 0, sizeof(*o));
	o->path = path;
	o->f = fopen(path, "wb");
	if (!o->f)
		die("%s: %s", path, strerror(errno));
	o->buf = xcalloc(OUT_CAP, 1);
}

static int out_close(out *o)
{
	out_flush(o);
	if (fclose(o->f) != 0 && !o->err)
		o->err = errno ? errno : EIO;
	free(o->buf);
	if (o->err) {
		fprintf(stderr, "gen-estate: %s: %s\n", o->path, strerror(o->err));
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: gen-estate --scale S --seed N --out DIR [--stats]\n"
	      "\n"
	      "Writes a synthetic enterprise estate as canonical stacktwin\n"
	      "interchange JSON Lines: DIR/nodes.jsonl, DIR/edges.jsonl and\n"
	      "DIR/costs.jsonl (DIR is created if needed).\n"
	      "\n"
	      "  --scale S   size, 1..1000 (S=1: ~11k nodes, ~60k edges,\n"
	      "              ~110k cost facts; linear in S)\n"
	      "  --seed N    random seed, 0..2^64-1 (default 1); the output is\n"
	      "              a pure function of (scale, seed)\n"
	      "  --out DIR   output directory\n"
	      "  --stats     print counts per node and edge type\n"
	      "  --help      this text\n", f);
}

static bool parse_u64(const char *s, uint64_t *ret)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

int main(int argc, char **argv)
{
	uint64_t scale = 1, seed = 1;
	const char *dir = NULL;
	bool stats = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;
		size_t kl = strcspn(a, "=");
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(a, "--stats")) {
			stats = true;
			continue;
		}
		if (a[kl] == '=')
			val = a + kl + 1;
		else if (i + 1 < argc)
			val = argv[i + 1];
		bool took_next = a[kl] != '=';
		if (!strncmp(a, "--scale", kl) && kl == 7) {
			if (!parse_u64(val, &scale) || scale < 1 || scale > SCALE_MAX) {
				fprintf(stderr, "gen-estate: --scale wants an integer 1..%d\n", SCALE_MAX);
				return 2;
			}
		} else if (!strncmp(a, "--seed", kl) && kl == 6) {
			if (!parse_u64(val, &seed)) {
				fputs("gen-estate: --seed wants an unsigned integer\n", stderr);
				return 2;
			}
		} else if (!strncmp(a, "--out", kl) && kl == 5) {
			if (!val || !*val) {
				fputs("gen-estate: --out wants a directory\n", stderr);
				return 2;
			}
			dir = val;
		} else {
			fprintf(stderr, "gen-estate: unknown argument '%s'\n", a);
			usage(stderr);
			return 2;
		}
		if (took_next)
			i++;
	}
	if (!dir) {
		fputs("gen-estate: --out DIR is required\n", stderr);
		usage(stderr);
		return 2;
	}
	int rc = make_dirs(dir);
	if (rc < 0) {
		fprintf(stderr, "gen-estate: %s: %s\n", dir, strerror(-rc));
		return 1;
	}

	estate e;
	memset(&e, 0, sizeof(e));
	char pn[4096], pe[4096], pc[4096];
	e.seed = seed;
	estate_size(&e, (uint32_t)scale);
	estate_alloc(&e);
	out_open(&e.nodes, dir, "nodes.jsonl", pn, sizeof(pn));
	out_open(&e.edges, dir, "edges.jsonl", pe, sizeof(pe));
	out_open(&e.costs, dir, "costs.jsonl", pc, sizeof(pc));

	plan_cloud(&e);
	gen_org(&e);
	gen_k8s_infra(&e);
	gen_components(&e);
	gen_services(&e);
	gen_calls(&e);
	gen_apis(&e);
	gen_cloud(&e);
	gen_resources(&e);

	uint64_t nn = e.nodes.records, ne = e.edges.records, nc = e.costs.records;
	int bad = 0;
	bad |= out_close(&e.nodes);
	bad |= out_close(&e.edges);
	bad |= out_close(&e.costs);
	if (stats) {
		for (int t = 0; t < N__COUNT; t++)
			printf("node %-22s %llu\n", ntype_name[t], (unsigned long long)e.node_count[t]);
		for (int t = 0; t < E__COUNT; t++)
			printf("edge %-22s %llu\n", etype_name[t], (unsigned long long)e.edge_count[t]);
	}
	printf("scale %llu seed %llu: %llu nodes, %llu edges, %llu cost facts\n",
	       (unsigned long long)scale, (unsigned long long)seed, (unsigned long long)nn,
	       (unsigned long long)ne, (unsigned long long)nc);
	estate_free(&e);
	return bad ? 1 : 0;
}
