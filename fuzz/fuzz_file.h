/*
 * fuzz_file.h — the temporary directory of a connector fuzz target: made once
 * per process, holding the one input file that is rewritten for every run,
 * removed at exit.  Header-only; each target reports a failure its own way.
 */
#ifndef ST_FUZZ_FILE_H
#define ST_FUZZ_FILE_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fz_file {
	char dir[4096];
	char input[4096 + 32];
} fz_file;

/* Make $TMPDIR/stacktwin-fuzz-TAG.XXXXXX and name the input NAME in it.
 * NULL, or what failed. */
static const char *fz_file_init(fz_file *f, const char *tag, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	int n = snprintf(f->dir, sizeof(f->dir), "%s/stacktwin-fuzz-%s.XXXXXX", tmp, tag);
	if (n < 0 || (size_t)n >= sizeof(f->dir))
		return "TMPDIR is too long";
	if (!mkdtemp(f->dir)) {
		f->dir[0] = '\0';
		return "mkdtemp failed";
	}
	snprintf(f->input, sizeof(f->input), "%s/%s", f->dir, name);
	return NULL;
}

/* Remove the directory and what is in it (one level, as the targets write). */
static void fz_file_remove(fz_file *f)
{
	if (!f->dir[0])
		return;
	DIR *d = opendir(f->dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	rmdir(f->dir);
	f->dir[0] = '\0';
}

/* Write the input file.  NULL, or what failed. */
static const char *fz_file_write(const fz_file *f, const uint8_t *data, size_t size)
{
	FILE *fp = fopen(f->input, "wb");
	if (!fp)
		return "cannot create the input file";
	bool ok = !size || fwrite(data, 1, size, fp) == size;
	if (fclose(fp) != 0 || !ok)
		return "cannot write the input file";
	return NULL;
}

#endif
