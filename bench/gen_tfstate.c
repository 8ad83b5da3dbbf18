/*
 * gen_tfstate.c — a seeded generator of large, realistic Terraform states
 * (format version 4) for benchmarking the terraform connector.
 *
 *   gen-tfstate --mb 100 --seed 1 --out FILE
 *
 * The output is pretty-printed like Terraform's own (two-space indent) and
 * mixes the shapes that make real states big: modules (plain, counted and
 * for_each'd, nested), count and for_each resources, tags and tags_all,
 * large attribute maps with nested blocks, IAM policies as escaped JSON
 * strings, user_data blobs, data sources, sensitive_attributes (database
 * passwords, keys) and dependencies on earlier resources (index-less,
 * indexed, into other modules, on data sources, and a few dangling).  The
 * same seed always produces the same bytes.  Writes a summary to stderr.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- PRNG: splitmix64 ---- */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* ---- a small pretty JSON writer ---- */
typedef struct jw {
	FILE *f;
	int depth;
	bool first[64];
	uint64_t bytes;
} jw;

static void jw_raw(jw *w, const char *s)
{
	w->bytes += strlen(s);
	fputs(s, w->f);
}

static void jw_sep(jw *w)
{
	if (w->depth == 0)
		return;
	jw_raw(w, w->first[w->depth] ? "\n" : ",\n");
	w->first[w->depth] = false;
	for (int i = 0; i < w->depth; i++)
		jw_raw(w, "  ");
}

static void jw_str_body(jw *w, const char *s)
{
	char buf[8];
	jw_raw(w, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[0] = '\\', buf[1] = (char)c, buf[2] = 0;
			jw_raw(w, buf);
		} else if (c == '\n')
			jw_raw(w, "\\n");
		else if (c < 0x20) {
			snprintf(buf, sizeof(buf), "\\u%04x", c);
			jw_raw(w, buf);
		} else {
			fputc(c, w->f);
			w->bytes++;
		}
	}
	jw_raw(w, "\"");
}

static void jw_key(jw *w, const char *k)
{
	jw_sep(w);
	if (k) {
		jw_str_body(w, k);
		jw_raw(w, ": ");
	}
}

static void jw_open(jw *w, const char *k, const char *bracket)
{
	jw_key(w, k);
	jw_raw(w, bracket);
	w->first[++w->depth] = true;
}

static void jw_close(jw *w, const char *bracket)
{
	bool empty = w->first[w->depth];
	w->depth--;
	if (!empty) {
		jw_raw(w, "\n");
		for (int i = 0; i < w->depth; i++)
			jw_raw(w, "  ");
	}
	jw_raw(w, bracket);
}

#define OBJ(w, k) jw_open((w), (k), "{")
#define ARR(w, k) jw_open((w), (k), "[")
#define END_OBJ(w) jw_close((w), "}")
#define END_ARR(w) jw_close((w), "]")

static void jw_s(jw *w, const char *k, const char *v)
{
	jw_key(w, k);
	jw_str_body(w, v);
}

static void jw_n(jw *w, const char *k, long long v)
{
	char buf[32];
	jw_key(w, k);
	snprintf(buf, sizeof(buf), "%lld", v);
	jw_raw(w, buf);
}

static void jw_lit(jw *w, const char *k, const char *lit)
{
	jw_key(w, k);
	jw_raw(w, lit);
}

/* ---- vocabulary ---- */
static const char *const services[] = {
	"payments", "checkout", "cart",	     "catalog",	      "search",		 "auth",
	"billing",  "shipping", "inventory", "email",	      "recommendations", "frontend",
	"gateway",  "ledger",	"fraud",     "notifications",
};
static const char *const teams[] = {"payments", "storefront", "platform", "data",
				    "identity", "logistics",  "growth"};
static const char *const regions[] = {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1",
				      "ap-southeast-2"};
static const char *const envs[] = {"prod", "staging", "dev"};
#define N(a) (sizeof(a) / sizeof((a)[0]))

#define AWS "provider[\"registry.terraform.io/hashicorp/aws\"]"
#define GCP "provider[\"registry.terraform.io/hashicorp/google\"]"
#define AZ "provider[\"registry.terraform.io/hashicorp/azurerm\"]"

/* What has been generated, for dependencies. */
typedef struct done_res {
	char addr[256];	 /* config address (module keys stripped) */
	char inst0[256]; /* address of instance 0 (module keys kept) or "" */
} done_res;

static done_res *done;
static size_t n_done, cap_done;

static void remember(const char *cfg, const char *inst0)
{
	if (n_done == cap_done) {
		cap_done = cap_done ? cap_done * 2 : 1024;
		done = realloc(done, cap_done * sizeof(*done));
		if (!done)
			abort();
	}
	snprintf(done[n_done].addr, sizeof(done[n_done].addr), "%s", cfg);
	snprintf(done[n_done].inst0, sizeof(done[n_done].inst0), "%s", inst0);
	n_done++;
}

static uint64_t n_resources, n_instances, n_data, n_sensitive, n_deps;

static void hexid(char *buf, size_t n, unsigned len)
{
	static const char hx[] = "0123456789abcdef";
	unsigned i = 0;
	for (; i < len && i + 1 < n; i++)
		buf[i] = hx[pick(16)];
	buf[i] = 0;
}

static void tags(jw *w, const char *key, const char *svc, const char *team, const char *env,
		 const char *name, bool all)
{
	OBJ(w, key);
	jw_s(w, "Name", name);
	if (pick(4)) {
		jw_s(w, pick(3) ? "service" : "Service", svc);
		jw_s(w, pick(2) ? "team" : "owner", team);
	} else
		jw_s(w, "app.kubernetes.io/name", svc);
	if (pick(3) == 0)
		jw_s(w, "system", "commerce");
	if (all) {
		jw_s(w, "env", env);
		jw_s(w, "managed-by", "terraform");
		jw_s(w, "cost-center", pick(2) ? "cc-1042" : "cc-2001");
	}
	END_OBJ(w);
}

static void policy_json(char *buf, size_t cap, const char *arn)
{
	size_t len = 0;
	len += (size_t)snprintf(buf + len, cap - len,
				"{\"Version\":\"2012-10-17\",\"Statement\":[");
	unsigned n = 3 + pick(20);
	for (unsigned i = 0; i < n && len + 400 < cap; i++)
		len += (size_t)snprintf(
			buf + len, cap - len,
			"%s{\"Sid\":\"Stmt%u\",\"Effect\":\"Allow\",\"Action\":"
			"[\"s3:GetObject\",\"s3:PutObject\",\"kms:Decrypt\"],"
			"\"Resource\":[\"%s/*\",\"%s\"],\"Condition\":{\"StringEquals\":"
			"{\"aws:PrincipalTag/team\":\"t%u\"}}}",
			i ? "," : "", i, arn, arn, pick(100));
	snprintf(buf + len, cap - len, "]}");
}

/* Common instance tail: sensitive paths and dependencies. */
static void deps(jw *w, const char *self_cfg)
{
	unsigned nd = n_done ? pick(4) : 0;
	if (!nd)
		return;
	ARR(w, "dependencies");
	for (unsigned i = 0; i < nd; i++) {
		const done_res *d = &done[pick((unsigned)n_done)];
		if (!strcmp(d->addr, self_cfg))
			continue;
		n_deps++;
		unsigned how = pick(20);
		if (how == 0) /* dangling: a resource that was removed from the state */
			jw_s(w, NULL, "aws_security_group.legacy_removed");
		else
			jw_s(w, NULL, d->addr);
	}
	END_ARR(w);
}

static void instance_begin(jw *w, int kind, unsigned idx, const char *key)
{
	OBJ(w, NULL);
	if (kind == 1)
		jw_n(w, "index_key", idx);
	else if (kind == 2)
		jw_s(w, "index_key", key);
	jw_n(w, "schema_version", pick(3));
	n_instances++;
}

static void gen_instance_attrs(jw *w, const char *type, const char *svc, const char *team,
			       const char *env, const char *region, const char *name,
			       bool *sensitive)
{
	char id[64], arn[256], buf[16384], az[32];
	hexid(id, 18, 17);
	snprintf(az, sizeof(az), "%s%c", region, "abc"[pick(3)]);
	*sensitive = false;
	OBJ(w, "attributes");
	if (!strcmp(type, "aws_instance")) {
		snprintf(arn, sizeof(arn), "arn:aws:ec2:%s:123456789012:instance/i-%s", region, id);
		jw_s(w, "ami", "ami-0c55b159cbfafe1f0");
		jw_s(w, "arn", arn);
		jw_lit(w, "associate_public_ip_address", pick(2) ? "true" : "false");
		jw_s(w, "availability_zone", az);
		OBJ(w, "capacity_reservation_specification");
		jw_s(w, "capacity_reservation_preference", "open");
		END_OBJ(w);
		jw_n(w, "cpu_core_count", 2);
		jw_n(w, "cpu_threads_per_core", 2);
		ARR(w, "ebs_block_device");
		for (unsigned i = 0, n = pick(4); i < n; i++) {
			OBJ(w, NULL);
			jw_lit(w, "delete_on_termination", "true");
			snprintf(buf, sizeof(buf), "/dev/sd%c", 'f' + i);
			jw_s(w, "device_name", buf);
			jw_lit(w, "encrypted", "true");
			jw_n(w, "iops", 3000);
			jw_s(w, "kms_key_id",
			     "arn:aws:kms:eu-west-1:123456789012:key/8f1b2c3d-aaaa-bbbb-cccc-1234567890ab");
			jw_n(w, "volume_size", 100 + pick(900));
			jw_s(w, "volume_type", "gp3");
			END_OBJ(w);
		}
		END_ARR(w);
		jw_s(w, "iam_instance_profile", svc);
		snprintf(buf, sizeof(buf), "i-%s", id);
		jw_s(w, "id", buf);
		jw_s(w, "instance_state", "running");
		jw_s(w, "instance_type", pick(2) ? "m5.large" : "c6i.xlarge");
		OBJ(w, "metadata_options");
		jw_s(w, "http_endpoint", "enabled");
		jw_n(w, "http_put_response_hop_limit", 1);
		jw_s(w, "http_tokens", "required");
		END_OBJ(w);
		jw_lit(w, "monitoring", "true");
		snprintf(buf, sizeof(buf), "10.%u.%u.%u", pick(256), pick(256), pick(256));
		jw_s(w, "private_ip", buf);
		ARR(w, "root_block_device");
		OBJ(w, NULL);
		jw_lit(w, "delete_on_termination", "true");
		jw_s(w, "device_name", "/dev/xvda");
		jw_n(w, "volume_size", 50);
		OBJ(w, "tags");
		END_OBJ(w);
		END_OBJ(w);
		END_ARR(w);
		tags(w, "tags", svc, team, env, name, false);
		tags(w, "tags_all", svc, team, env, name, true);
		size_t len = 0;
		len += (size_t)snprintf(buf, sizeof(buf), "#!/bin/bash\nset -euo pipefail\n");
		for (unsigned i = 0, n = 20 + pick(80); i < n && len + 200 < sizeof(buf); i++)
			len += (size_t)snprintf(
				buf + len, sizeof(buf) - len,
				"echo \"configuring %s step %u\" >> /var/log/init.log\n", svc, i);
		jw_s(w, "user_data", buf);
		ARR(w, "vpc_security_group_ids");
		for (unsigned i = 0, n = 1 + pick(3); i < n; i++) {
			hexid(id, 18, 17);
			snprintf(buf, sizeof(buf), "sg-%s", id);
			jw_s(w, NULL, buf);
		}
		END_ARR(w);
	} else if (!strcmp(type, "aws_iam_policy")) {
		snprintf(arn, sizeof(arn), "arn:aws:iam::123456789012:policy/%s", name);
		jw_s(w, "arn", arn);
		jw_s(w, "description", "generated policy");
		jw_s(w, "id", arn);
		jw_s(w, "name", name);
		jw_s(w, "path", "/");
		char sarn[128];
		snprintf(sarn, sizeof(sarn), "arn:aws:s3:::%s-%s-data", svc, env);
		policy_json(buf, sizeof(buf), sarn);
		jw_s(w, "policy", buf);
		hexid(id, 22, 21);
		jw_s(w, "policy_id", id);
		tags(w, "tags", svc, team, env, name, false);
	} else if (!strcmp(type, "aws_s3_bucket")) {
		snprintf(arn, sizeof(arn), "arn:aws:s3:::%s", name);
		jw_s(w, "acceleration_status", "");
		jw_s(w, "arn", arn);
		jw_s(w, "bucket", name);
		snprintf(buf, sizeof(buf), "%s.s3.amazonaws.com", name);
		jw_s(w, "bucket_domain_name", buf);
		jw_lit(w, "force_destroy", "false");
		jw_s(w, "id", name);
		ARR(w, "lifecycle_rule");
		for (unsigned i = 0, n = pick(5); i < n; i++) {
			OBJ(w, NULL);
			jw_lit(w, "enabled", "true");
			snprintf(buf, sizeof(buf), "rule-%u", i);
			jw_s(w, "id", buf);
			ARR(w, "transition");
			OBJ(w, NULL);
			jw_n(w, "days", 30 * (i + 1));
			jw_s(w, "storage_class", "GLACIER");
			END_OBJ(w);
			END_ARR(w);
			END_OBJ(w);
		}
		END_ARR(w);
		jw_s(w, "region", region);
		OBJ(w, "server_side_encryption_configuration");
		jw_s(w, "sse_algorithm", "aws:kms");
		END_OBJ(w);
		tags(w, "tags", svc, team, env, name, false);
		tags(w, "tags_all", svc, team, env, name, true);
		ARR(w, "versioning");
		OBJ(w, NULL);
		jw_lit(w, "enabled", "true");
		jw_lit(w, "mfa_delete", "false");
		END_OBJ(w);
		END_ARR(w);
	} else if (!strcmp(type, "aws_db_instance")) {
		snprintf(arn, sizeof(arn), "arn:aws:rds:%s:123456789012:db:%s", region, name);
		jw_n(w, "allocated_storage", 100);
		jw_s(w, "arn", arn);
		jw_s(w, "availability_zone", az);
		jw_n(w, "backup_retention_period", 7);
		jw_s(w, "engine", "postgres");
		jw_s(w, "engine_version", "15.4");
		jw_s(w, "id", name);
		jw_s(w, "instance_class", "db.r6g.large");
		jw_s(w, "name", name);
		/* the secret a state really holds */
		hexid(buf, 40, 32);
		jw_s(w, "password", buf);
		jw_n(w, "port", 5432);
		tags(w, "tags", svc, team, env, name, false);
		jw_s(w, "username", "app");
		*sensitive = true;
	} else if (!strcmp(type, "aws_security_group")) {
		hexid(id, 18, 17);
		snprintf(arn, sizeof(arn), "arn:aws:ec2:%s:123456789012:security-group/sg-%s",
			 region, id);
		jw_s(w, "arn", arn);
		jw_s(w, "description", "managed by terraform");
		ARR(w, "ingress");
		for (unsigned i = 0, n = 2 + pick(12); i < n; i++) {
			OBJ(w, NULL);
			ARR(w, "cidr_blocks");
			snprintf(buf, sizeof(buf), "10.%u.0.0/16", pick(256));
			jw_s(w, NULL, buf);
			END_ARR(w);
			jw_s(w, "description", "allow service traffic");
			jw_n(w, "from_port", 443 + i);
			ARR(w, "ipv6_cidr_blocks");
			END_ARR(w);
			jw_s(w, "protocol", "tcp");
			jw_lit(w, "self", "false");
			jw_n(w, "to_port", 443 + i);
			END_OBJ(w);
		}
		END_ARR(w);
		snprintf(buf, sizeof(buf), "sg-%s", id);
		jw_s(w, "id", buf);
		jw_s(w, "name", name);
		tags(w, "tags", svc, team, env, name, false);
	} else if (!strcmp(type, "google_compute_instance")) {
		snprintf(buf, sizeof(buf), "projects/acme-%s/zones/europe-west1-%c/instances/%s",
			 env, "bcd"[pick(3)], name);
		jw_s(w, "id", buf);
		OBJ(w, "labels");
		jw_s(w, "app", svc);
		jw_s(w, "team", team);
		END_OBJ(w);
		jw_s(w, "machine_type", "e2-standard-4");
		jw_s(w, "name", name);
		ARR(w, "tags");
		jw_s(w, NULL, "http-server");
		END_ARR(w);
		snprintf(buf, sizeof(buf), "europe-west1-%c", "bcd"[pick(3)]);
		jw_s(w, "zone", buf);
	} else { /* azurerm_storage_account */
		snprintf(buf, sizeof(buf),
			 "/subscriptions/0000-1111/resourceGroups/%s/providers/"
			 "Microsoft.Storage/storageAccounts/%s",
			 svc, name);
		jw_s(w, "id", buf);
		jw_s(w, "location", "westeurope");
		jw_s(w, "name", name);
		hexid(buf, 90, 88);
		jw_s(w, "primary_access_key", buf);
		char cs[512];
		snprintf(cs, sizeof(cs),
			 "DefaultEndpointsProtocol=https;AccountName=%s;AccountKey=%.88s", name,
			 buf);
		jw_s(w, "primary_connection_string", cs);
		OBJ(w, "tags");
		jw_s(w, "service", svc);
		jw_s(w, "team", team);
		END_OBJ(w);
		*sensitive = true;
	}
	END_OBJ(w);
}

static void sensitive(jw *w, bool yes, const char *type)
{
	ARR(w, "sensitive_attributes");
	if (yes) {
		n_sensitive++;
		const char *a = !strcmp(type, "aws_db_instance") ? "password" :
								   "primary_access_key";
		ARR(w, NULL);
		OBJ(w, NULL);
		jw_s(w, "type", "get_attr");
		jw_s(w, "value", a);
		END_OBJ(w);
		END_ARR(w);
		if (strcmp(type, "aws_db_instance")) {
			ARR(w, NULL);
			OBJ(w, NULL);
			jw_s(w, "type", "get_attr");
			jw_s(w, "value", "primary_connection_string");
			END_OBJ(w);
			END_ARR(w);
		}
	}
	END_ARR(w);
}

static void usage(void)
{
	fprintf(stderr, "usage: gen-tfstate --mb N --seed S --out FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	double mb = 0;
	uint64_t seed = 1;
	const char *out = NULL;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--mb"))
			mb = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--out"))
			out = argv[++i];
		else
			usage();
	}
	if (mb <= 0 || mb > 100000 || !out)
		usage();
	rng_state = seed;
	FILE *f = fopen(out, "w");
	if (!f) {
		perror(out);
		return 1;
	}
	static char iobuf[1 << 20];
	setvbuf(f, iobuf, _IOFBF, sizeof(iobuf));
	uint64_t target = (uint64_t)(mb * 1024 * 1024);
	jw w = {.f = f};
	char lineage[40], buf[256];
	hexid(lineage, 9, 8);
	snprintf(buf, sizeof(buf), "%s-0000-4000-8000-%012" PRIx64, lineage, seed);
	OBJ(&w, NULL);
	jw_n(&w, "version", 4);
	jw_s(&w, "terraform_version", "1.6.6");
	jw_n(&w, "serial", (long long)(1000 + seed));
	jw_s(&w, "lineage", buf);
	OBJ(&w, "outputs");
	OBJ(&w, "db_endpoint");
	jw_s(&w, "value", "payments.cluster-abc.eu-west-1.rds.amazonaws.com");
	jw_s(&w, "type", "string");
	END_OBJ(&w);
	END_OBJ(&w);
	ARR(&w, "resources");
	static const char *const types[] = {
		"aws_instance",
		"aws_instance",
		"aws_iam_policy",
		"aws_s3_bucket",
		"aws_db_instance",
		"aws_security_group",
		"aws_security_group",
		"google_compute_instance",
		"azurerm_storage_account",
	};
	static const char *const keys[] = {"blue", "green", "canary", "eu", "us", "logs", "assets"};
	unsigned mod_i = 0;
	while (w.bytes < target) {
		/* one module instance (or the root) with a handful of resources */
		mod_i++;
		const char *svc = services[pick(N(services))];
		const char *team = teams[pick(N(teams))];
		const char *env = envs[pick(N(envs))];
		const char *region = regions[pick(N(regions))];
		char mod[128] = "", modcfg[128] = "";
		unsigned shape = pick(6);
		if (shape == 1 || shape == 2) {
			snprintf(mod, sizeof(mod), "module.%s_%u", svc, mod_i);
			snprintf(modcfg, sizeof(modcfg), "%s", mod);
		} else if (shape == 3) {
			snprintf(mod, sizeof(mod), "module.%s_%u[\"%s\"]", svc, mod_i,
				 keys[pick(3)]);
			snprintf(modcfg, sizeof(modcfg), "module.%s_%u", svc, mod_i);
		} else if (shape == 4) {
			snprintf(mod, sizeof(mod), "module.%s_%u[%u].module.net", svc, mod_i,
				 pick(3));
			snprintf(modcfg, sizeof(modcfg), "module.%s_%u.module.net", svc, mod_i);
		}
		if (pick(3) == 0) { /* a data source */
			OBJ(&w, NULL);
			if (mod[0])
				jw_s(&w, "module", mod);
			jw_s(&w, "mode", "data");
			jw_s(&w, "type", "aws_iam_policy_document");
			snprintf(buf, sizeof(buf), "%s_%u", svc, mod_i);
			jw_s(&w, "name", buf);
			jw_s(&w, "provider", AWS);
			ARR(&w, "instances");
			OBJ(&w, NULL);
			jw_n(&w, "schema_version", 0);
			OBJ(&w, "attributes");
			char pj[8192];
			policy_json(pj, sizeof(pj), "arn:aws:s3:::example");
			jw_s(&w, "json", pj);
			jw_s(&w, "id", "1234567890");
			END_OBJ(&w);
			ARR(&w, "sensitive_attributes");
			END_ARR(&w);
			END_OBJ(&w);
			END_ARR(&w);
			END_OBJ(&w);
			char cfg[512];
			snprintf(cfg, sizeof(cfg), "%s%sdata.aws_iam_policy_document.%s", modcfg,
				 modcfg[0] ? "." : "", buf);
			remember(cfg, "");
			n_data++;
		}
		for (unsigned r = 0, nr = 1 + pick(5); r < nr; r++) {
			const char *type = types[pick(N(types))];
			const char *prov = !strncmp(type, "google", 6)	? GCP :
					   !strncmp(type, "azurerm", 7) ? AZ :
									  AWS;
			char rname[64], cfg[512];
			snprintf(rname, sizeof(rname), "%s_%u_%u", r ? "extra" : "this", mod_i, r);
			snprintf(cfg, sizeof(cfg), "%s%s%s.%s", modcfg, modcfg[0] ? "." : "", type,
				 rname);
			/* count (list), for_each (map) or single */
			unsigned each = pick(4);
			unsigned n_inst = each == 1 ? 1 + pick(6) : each == 2 ? 1 + pick(4) : 1;
			OBJ(&w, NULL);
			if (mod[0])
				jw_s(&w, "module", mod);
			jw_s(&w, "mode", "managed");
			jw_s(&w, "type", type);
			jw_s(&w, "name", rname);
			if (each == 1)
				jw_s(&w, "each", "list");
			else if (each == 2)
				jw_s(&w, "each", "map");
			jw_s(&w, "provider", prov);
			ARR(&w, "instances");
			for (unsigned i = 0; i < n_inst; i++) {
				instance_begin(&w,
					       each == 1 ? 1 :
					       each == 2 ? 2 :
							   0,
					       i, keys[(i + mod_i) % N(keys)]);
				char name[96];
				snprintf(name, sizeof(name), "%s-%s-%u-%u", svc, env, mod_i, i);
				bool sens;
				gen_instance_attrs(&w, type, svc, team, env, region, name, &sens);
				sensitive(&w, sens, type);
				deps(&w, cfg);
				if (pick(10) == 0)
					jw_lit(&w, "create_before_destroy", "true");
				END_OBJ(&w);
			}
			END_ARR(&w);
			END_OBJ(&w);
			n_resources++;
			char inst0[512];
			snprintf(inst0, sizeof(inst0), "%s%s%s.%s%s", mod, mod[0] ? "." : "", type,
				 rname, each == 1 ? "[0]" : "");
			remember(cfg, inst0);
			/* some dependencies name one instance of a counted resource */
			if (each == 1 && pick(2))
				remember(inst0, inst0);
		}
	}
	END_ARR(&w);
	jw_lit(&w, "check_results", "null");
	END_OBJ(&w);
	jw_raw(&w, "\n");
	if (fclose(f)) {
		perror(out);
		return 1;
	}
	fprintf(stderr,
		"gen-tfstate: %s: %.1f MiB, %" PRIu64 " managed resources, %" PRIu64
		" instances, %" PRIu64 " data sources, %" PRIu64
		" instances with sensitive attributes, %" PRIu64 " dependencies\n",
		out, (double)w.bytes / 1048576.0, n_resources, n_instances, n_data, n_sensitive,
		n_deps);
	free(done);
	return 0;
}
