/*
 * gen_focus.c — a seeded generator of FOCUS 1.0 billing CSVs for the billing
 * connector benchmark (bench/billing-bench, docs/benchmarks.md).
 *
 *   gen-focus [--bytes N] [--seed S] [--resources R] [--days D] [--out FILE]
 *
 * Writes rows until at least N bytes (default 1 GiB) are out.  The columns are
 * those of the FOCUS sample data (44, including an `Id`), rows are hourly
 * charges of R resources (default 20000) over D days (default 30) from
 * 2026-10-01, costs with 11 fractional digits, `Tags` JSON objects (quoted,
 * doubled quotes) on most rows with service/team keys, `NULL` literals and
 * some rows without a ResourceId.  The same seed gives the same bytes.  No
 * floating point: amounts are integers of 1e-11 printed as decimals.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void usage(void)
{
	fprintf(stderr, "usage: gen-focus [--bytes N] [--seed S] [--resources R] [--days D] "
			"[--out FILE]\n");
	exit(2);
}

static const char *const services[] = {
	"Amazon Elastic Compute Cloud",
	"Amazon Simple Storage Service",
	"Elastic Load Balancing",
	"Amazon Relational Database Service",
	"AmazonCloudWatch",
	"Amazon Simple Queue Service",
};
static const char *const regions[] = {"us-west-2", "us-east-1", "eu-west-1", "eu-central-1"};
static const char *const teams[] = {"payments", "checkout", "catalog", "platform", "search"};

/* 1e-11 units as a decimal with 11 fractional digits. */
static int money(char *buf, size_t n, uint64_t units)
{
	return snprintf(buf, n, "%" PRIu64 ".%011" PRIu64, (uint64_t)(units / 100000000000ULL),
			(uint64_t)(units % 100000000000ULL));
}

static void day_str(int d, char out[11])
{
	/* 2026-10-01 + d, d < 92 (Oct, Nov, Dec) */
	static const int mdays[] = {31, 30, 31};
	int m = 0;
	while (m < 2 && d >= mdays[m]) {
		d -= mdays[m];
		m++;
	}
	snprintf(out, 11, "2026-%02d-%02d", 10 + m, d + 1);
}

int main(int argc, char **argv)
{
	uint64_t bytes = 1ULL << 30, seed = 1;
	long resources = 20000, days = 30;
	const char *out = NULL;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		char *end;
		if (!strcmp(argv[i], "--bytes"))
			bytes = strtoull(argv[++i], &end, 10);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[++i], &end, 10);
		else if (!strcmp(argv[i], "--resources"))
			resources = strtol(argv[++i], &end, 10);
		else if (!strcmp(argv[i], "--days"))
			days = strtol(argv[++i], &end, 10);
		else if (!strcmp(argv[i], "--out"))
			out = argv[++i];
		else
			usage();
	}
	if (resources < 1 || resources > 10000000 || days < 1 || days > 92)
		usage();
	rng_state = seed;
	FILE *f = out ? fopen(out, "w") : stdout;
	if (!f) {
		perror(out);
		return 1;
	}
	static char iobuf[1 << 20];
	setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
	const char *header =
		"\"AvailabilityZone\",\"BilledCost\",\"BillingAccountId\",\"BillingAccountName\","
		"\"BillingCurrency\",\"BillingPeriodEnd\",\"BillingPeriodStart\",\"ChargeCategory\","
		"\"ChargeClass\",\"ChargeDescription\",\"ChargeFrequency\",\"ChargePeriodEnd\","
		"\"ChargePeriodStart\",\"CommitmentDiscountCategory\",\"CommitmentDiscountId\","
		"\"CommitmentDiscountName\",\"CommitmentDiscountStatus\",\"CommitmentDiscountType\","
		"\"ConsumedQuantity\",\"ConsumedUnit\",\"ContractedCost\",\"ContractedUnitPrice\","
		"\"EffectiveCost\",\"InvoiceIssuerName\",\"ListCost\",\"ListUnitPrice\","
		"\"PricingCategory\",\"PricingQuantity\",\"PricingUnit\",\"ProviderName\","
		"\"PublisherName\",\"RegionId\",\"RegionName\",\"ResourceId\",\"ResourceName\","
		"\"ResourceType\",\"ServiceCategory\",\"Id\",\"ServiceName\",\"SkuId\",\"SkuPriceId\","
		"\"SubAccountId\",\"SubAccountName\",\"Tags\"\n";
	fputs(header, f);
	uint64_t written = strlen(header), row = 0;
	char billed[40], eff[40], list[40], day[11], line[2048];
	while (written < bytes) {
		uint64_t r = rnd();
		long res = (long)(r % (uint64_t)resources);
		int d = (int)((r >> 24) % (uint64_t)days), hour = (int)((r >> 40) % 24);
		const char *svc = services[res % (long)(sizeof(services) / sizeof(*services))];
		const char *reg = regions[res % (long)(sizeof(regions) / sizeof(*regions))];
		const char *team = teams[(res / 7) % (long)(sizeof(teams) / sizeof(*teams))];
		uint64_t units = rnd() % 5000000000ULL; /* up to 0.05 per row */
		money(billed, sizeof(billed), units);
		money(eff, sizeof(eff), units - units / 8);
		money(list, sizeof(list), units + units / 10);
		day_str(d, day);
		char rid[96], tags[160];
		if (res % 50 == 49)
			snprintf(rid, sizeof(rid), "NULL");
		else
			snprintf(rid, sizeof(rid), "\"arn:aws:ec2:%s:%012ld:instance/i-%016lx\"",
				 reg, 100000000000L + res % 97, (unsigned long)res * 2654435761UL);
		if (res % 10 < 7)
			snprintf(tags, sizeof(tags),
				 "\"{\"\"service\"\": \"\"svc-%ld\"\", \"\"team\"\": \"\"%s\"\", "
				 "\"\"environment\"\": \"\"prod\"\"}\"",
				 res % 500, team);
		else
			snprintf(tags, sizeof(tags), "NULL");
		int n = snprintf(
			line, sizeof(line),
			"NULL,%s,\"1234567890123\",\"SunBird\",\"USD\",\"2026-11-01 00:00:00\","
			"\"2026-10-01 00:00:00\",\"Usage\",NULL,\"$0.0104 per On Demand Linux "
			"t3.micro Instance Hour\",\"Usage-Based\",\"%s %02d:59:59\",\"%s %02d:00:00\","
			"NULL,NULL,NULL,NULL,NULL,1.000000000000000,\"Hours\",%s,0.00000000000,%s,"
			"\"Amazon Web Services, Inc.\",%s,\"0.0104\",\"Standard\",1.00000000000,"
			"\"Hours\",\"AWS\",\"Amazon Web Services, Inc.\",\"%s\",\"Region %s\",%s,NULL,"
			"NULL,\"Compute\",%" PRIu64 ",\"%s\",\"G95FST5FTYV3JSRX\","
			"\"G95FST5FTYV3JSRX.JRTCKXETXF.VXGXCWQKTY\",\"%012ld\",\"Account %ld\",%s\n",
			billed, day, hour, day, hour, list, eff, list, reg, reg, rid, row, svc,
			100000000000L + res % 97, res % 97, tags);
		fwrite(line, 1, (size_t)n, f);
		written += (uint64_t)n;
		row++;
	}
	if (fflush(f) || (out && fclose(f))) {
		perror(out ? out : "stdout");
		return 1;
	}
	fprintf(stderr, "gen-focus: %" PRIu64 " rows, %" PRIu64 " bytes\n", row, written);
	return 0;
}
