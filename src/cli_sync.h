/*
 * cli_sync.h — `stacktwin sync`, `sources` and `unmatched` (docs/sync.md).
 * Each takes argv with argv[0] the verb and returns the exit code.
 */
#ifndef ST_CLI_SYNC_H
#define ST_CLI_SYNC_H

int st_cli_sync(int argc, char **argv);
int st_cli_sources(int argc, char **argv);
int st_cli_unmatched(int argc, char **argv);

#endif
