/*
 * cli_query.h — `stacktwin query …`: the query engine on the command line.
 */
#ifndef ST_CLI_QUERY_H
#define ST_CLI_QUERY_H

/* argv[0] is "query".  Returns the process exit code (0, 2). */
int st_cli_query(int argc, char **argv);

#endif
