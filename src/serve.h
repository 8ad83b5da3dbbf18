/*
 * serve.h — `stacktwin serve`: the query API (docs/api.md) as JSON over the
 * HTTP core (http.h), with bearer-token authentication and graceful shutdown
 * on SIGTERM/SIGINT.
 */
#ifndef ST_SERVE_H
#define ST_SERVE_H

/* argv[0] is "serve".  Runs until a signal stops it; returns the process
 * exit code (0 after a graceful stop, 2 on bad options or a startup error). */
int st_cli_serve(int argc, char **argv);

#endif
