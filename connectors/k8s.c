/* being written: placeholder so that the build links */
#include "connector.h"

static int run(const st_source *src, st_sink *sink, st_diag *diag)
{
	(void)sink;
	return st_diag_set(diag, ST_E_INVALID, "source '%s': the k8s connector is not written yet",
			   src->name);
}

const st_connector st_connector_k8s = {"k8s", "placeholder", run};
