#!/usr/bin/env python3
"""openapi_walk.py SPEC PORT READ_TOKEN ADMIN_TOKEN [STATE_FILE] — walk
docs/openapi.yaml against a running `stacktwin serve` (started by
openapi_walk.sh with one token of each role and one on-demand Terraform source
named `prod-state`, the example of the sync route, whose state is STATE_FILE)
and check that the spec and the server agree.  Python 3 standard library only.

The YAML subset
---------------
docs/openapi.yaml is the one source of truth, and it is read here by a small
purpose-built reader (no PyYAML), so the spec keeps to a subset of YAML that
means the same to any YAML 1.2 parser:

  * block mappings `key: value` and block sequences `- item`, indented with
    spaces only (no tabs); a sequence item may open a mapping (`- name: id`,
    further keys indented to line up after the dash);
  * a key is a plain word (`/api/v1/node`, `$ref`) or a JSON string
    (`"200"`); a key with nothing after the colon opens a nested block;
  * a value is on one line: a JSON string ("..."), a JSON array or object
    (["a", "b"], [], {}), a whole number, true, false, null, or a plain
    string that does not start with a quote, bracket, digit or YAML indicator
    and contains neither ": " nor " #" (quote dates, versions and anything
    with a colon-space);
  * whole-line comments (`#`) and blank lines; no inline comments, anchors,
    tags, multi-line scalars or documents markers.

The reader rejects anything else with the line number.

What the walk checks, for every path in the spec (one GET or POST operation
each; a POST operation is an admin route, marked `x-role: admin`)
----------------------------------------------------------------------------
  1. with the token (the read token for GET, the admin token for POST) and
     every parameter that has an `example:` (path parameters are put into the
     path, `{id}` with its `/` left raw), the answer is 200 with the media type
     of the 200 response (application/json, or text/plain for /metrics) and
     the body (parsed JSON, or the text as a string) validates against its
     schema; the same with only the required parameters, where any success
     status the operation documents will do (a sync without `wait` is 202,
     validated against the 202 schema).  The `cursor`
     parameter is never sent from its example: the examples must give more
     than one page, and the walk follows the answer's `next_cursor` once and
     checks that page too;
  2. without a token: 401 problem+json with `WWW-Authenticate: Bearer`
     (except operations with `security: []`, i.e. /healthz, which answer 200);
     a wrong token is 403, and so is the read token on an admin route;
  3. for each required query parameter, leaving it out is 400 problem+json
     and the problem validates against components/schemas/Problem;
  4. the other method (POST on a GET route, GET on a POST route) is 405 with
     an Allow header naming the route's method;
  5. every operation documents 503 (store unavailable), and those with a
     cursor also 410 (stale cursor), those with a path parameter or a
     required node id also 404; every response but a success (2xx) is
     application/problem+json with the Problem schema;
  6. the spec is complete: paths under /api/v1/ that are not in it are 404
     (for paths under /api/v1/sources/, which only take POST, with POST),
     and none of its paths is 404;
  7. the source routes beyond the generic walk: the sync with `wait=true`
     really ran (the walk's first sync committed a revision; the same state
     again is unchanged); `wait=false` is 202; GET /api/v1/sources lists `prod-state` as configured
     and on demand, with a status record that validates against the schema;
     an unknown source is 404, a bad name, a bad `wait` or another parameter
     400; the sync metrics name the source; and, given STATE_FILE, a broken
     state is a 200 with result `failed` (and a failed status record) that
     validate too, after which the state is put back and syncs again.
The JSON Schema validator knows the keywords the spec uses: $ref (local),
type (a name or a list of names, the list is how null is allowed), required,
properties, additionalProperties (a schema), items, enum, minimum, maximum,
minLength, pattern, format (date, date-time), oneOf (a list of schemas, exactly
one must match: `[{$ref: X}, {type: "null"}]` is how an object or null is
written).
"""
import http.client
import json
import re
import sys
import time
import urllib.parse

# ------------------------------------------------------------ YAML subset

PLAIN_BAD_START = set('"\'[]{}&*!|>%@#`,?:-0123456789+.')


class SpecError(Exception):
    pass


def _scalar(text, lineno):
    if text.startswith('"') or text.startswith('[') or text.startswith('{'):
        try:
            return json.loads(text)
        except ValueError as e:
            raise SpecError('line %d: bad JSON value %r: %s' % (lineno, text, e))
    if re.fullmatch(r'-?(0|[1-9][0-9]*)', text):
        return int(text)
    if text in ('true', 'false', 'null'):
        return {'true': True, 'false': False, 'null': None}[text]
    if text[0] in PLAIN_BAD_START or ': ' in text or ' #' in text or text.endswith(':'):
        raise SpecError('line %d: quote this value: %r' % (lineno, text))
    if text in ('~', 'yes', 'no', 'on', 'off', 'True', 'False', 'Null', 'NULL'):
        raise SpecError('line %d: ambiguous plain value %r' % (lineno, text))
    return text


def _split_key(content, lineno):
    """(key, rest) of `key: rest` / `key:`, or None if content is no mapping entry."""
    if content.startswith('"'):
        m = re.match(r'"(?:[^"\\]|\\.)*"', content)
        if not m:
            raise SpecError('line %d: unterminated key' % lineno)
        key, after = json.loads(m.group(0)), content[m.end():]
        if after == ':':
            return key, ''
        if after.startswith(': '):
            return key, after[2:].strip()
        raise SpecError('line %d: expected ":" after the key' % lineno)
    m = re.match(r'([^\s:"\'\[\]{}#,][^\s:]*):(?: (.*))?$', content)
    if not m:
        return None
    return m.group(1), (m.group(2) or '').strip()


def parse_yaml(text):
    lines = []
    for n, raw in enumerate(text.split('\n'), 1):
        if '\t' in raw:
            raise SpecError('line %d: tab' % n)
        s = raw.rstrip()
        if not s.strip() or s.strip().startswith('#'):
            continue
        if s.strip() in ('---', '...'):
            raise SpecError('line %d: document markers are not in the subset' % n)
        lines.append([len(s) - len(s.lstrip(' ')), s.strip(), n])
    pos = [0]

    def block(indent):
        ind, content, n = lines[pos[0]]
        if ind != indent:
            raise SpecError('line %d: indentation %d, expected %d' % (n, ind, indent))
        if content == '-' or content.startswith('- '):
            return sequence(indent)
        return mapping(indent)

    def nested(parent_indent, n, allow_same_seq):
        """The block under a `key:` or `-` line, indented more (or a sequence at the same indent)."""
        if pos[0] >= len(lines):
            raise SpecError('line %d: nothing under it' % n)
        ind, content, _ = lines[pos[0]]
        if ind > parent_indent:
            return block(ind)
        if allow_same_seq and ind == parent_indent and (content == '-' or content.startswith('- ')):
            return sequence(ind)
        raise SpecError('line %d: nothing under it' % n)

    def mapping(indent):
        out = {}
        while pos[0] < len(lines):
            ind, content, n = lines[pos[0]]
            if ind < indent:
                break
            if ind > indent:
                raise SpecError('line %d: unexpected indentation' % n)
            if content.startswith('- ') or content == '-':
                break
            kv = _split_key(content, n)
            if kv is None:
                raise SpecError('line %d: expected "key: value"' % n)
            key, rest = kv
            if key in out:
                raise SpecError('line %d: duplicate key %r' % (n, key))
            pos[0] += 1
            out[key] = _scalar(rest, n) if rest else nested(indent, n, True)
        return out

    def sequence(indent):
        out = []
        while pos[0] < len(lines):
            ind, content, n = lines[pos[0]]
            if ind < indent:
                break
            if ind > indent:
                raise SpecError('line %d: unexpected indentation' % n)
            if not (content.startswith('- ') or content == '-'):
                break
            rest = content[1:].strip()
            if not rest:
                pos[0] += 1
                out.append(nested(indent, n, False))
            elif rest[0] not in '"[{' and _split_key(rest, n) is not None or \
                    rest.startswith('"') and re.match(r'"(?:[^"\\]|\\.)*":', rest):
                # "- key: value": a mapping whose keys line up after the dash
                lines[pos[0]] = [indent + 2, rest, n]
                out.append(mapping(indent + 2))
            else:
                pos[0] += 1
                out.append(_scalar(rest, n))
        return out

    if not lines:
        raise SpecError('empty spec')
    doc = block(0)
    if pos[0] != len(lines):
        raise SpecError('line %d: unexpected content' % lines[pos[0]][2])
    return doc

# ----------------------------------------------------------- JSON Schema


def resolve(spec, node):
    seen = 0
    while isinstance(node, dict) and '$ref' in node:
        ref = node['$ref']
        if not ref.startswith('#/'):
            raise SpecError('non-local $ref %r' % ref)
        node = spec
        for part in ref[2:].split('/'):
            node = node[part.replace('~1', '/').replace('~0', '~')]
        seen += 1
        if seen > 50:
            raise SpecError('$ref loop at %r' % ref)
    return node


def _is_type(v, t):
    if t == 'null':
        return v is None
    if t == 'boolean':
        return isinstance(v, bool)
    if t == 'integer':
        return isinstance(v, int) and not isinstance(v, bool)
    if t == 'number':
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if t == 'string':
        return isinstance(v, str)
    if t == 'array':
        return isinstance(v, list)
    if t == 'object':
        return isinstance(v, dict)
    raise SpecError('unknown type %r' % t)


KNOWN = {'$ref', 'type', 'required', 'properties', 'additionalProperties', 'items', 'enum',
         'minimum', 'maximum', 'minLength', 'format', 'description', 'default', 'pattern',
         'oneOf'}
DATE = re.compile(r'\d{4}-\d{2}-\d{2}$')
DATETIME = re.compile(r'\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$')


def validate(spec, schema, v, where='$'):
    """A list of error strings (empty when v is valid)."""
    schema = resolve(spec, schema)
    unknown = set(schema) - KNOWN
    if unknown:
        raise SpecError('schema at %s uses unsupported keywords %s' % (where, sorted(unknown)))
    errs = []
    if 'oneOf' in schema:
        results = [validate(spec, sub, v, '%s<oneOf %d>' % (where, i))
                   for i, sub in enumerate(schema['oneOf'])]
        matched = sum(1 for r in results if not r)
        if matched != 1:
            errs.append('%s: matches %d of the oneOf schemas, not exactly one' % (where, matched))
            if not matched:
                errs += [e for r in results for e in r]
    if 'type' in schema:
        types = schema['type'] if isinstance(schema['type'], list) else [schema['type']]
        if not any(_is_type(v, t) for t in types):
            return ['%s: %r is not of type %s' % (where, v if len(repr(v)) < 80 else type(v).__name__,
                                                  '|'.join(types))]
    if 'enum' in schema and v not in schema['enum']:
        errs.append('%s: %r is not one of %r' % (where, v, schema['enum']))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if 'minimum' in schema and v < schema['minimum']:
            errs.append('%s: %r < minimum %r' % (where, v, schema['minimum']))
        if 'maximum' in schema and v > schema['maximum']:
            errs.append('%s: %r > maximum %r' % (where, v, schema['maximum']))
    if isinstance(v, str):
        if 'minLength' in schema and len(v) < schema['minLength']:
            errs.append('%s: shorter than %d' % (where, schema['minLength']))
        if 'pattern' in schema and not re.search(schema['pattern'], v):
            errs.append('%s: %r does not match %r' % (where, v, schema['pattern']))
        fmt = schema.get('format')
        if fmt == 'date' and not DATE.match(v):
            errs.append('%s: %r is not a date' % (where, v))
        if fmt == 'date-time' and not DATETIME.match(v):
            errs.append('%s: %r is not a date-time' % (where, v))
    if isinstance(v, dict):
        for k in schema.get('required', []):
            if k not in v:
                errs.append('%s: required property %r missing' % (where, k))
        props = schema.get('properties', {})
        for k, x in v.items():
            if k in props:
                errs += validate(spec, props[k], x, '%s.%s' % (where, k))
            elif 'additionalProperties' in schema:
                errs += validate(spec, schema['additionalProperties'], x, '%s.%s' % (where, k))
            elif props:
                errs.append('%s: property %r is not in the schema' % (where, k))
    if isinstance(v, list) and 'items' in schema:
        for i, x in enumerate(v):
            errs += validate(spec, schema['items'], x, '%s[%d]' % (where, i))
    return errs

# ------------------------------------------------------------ source routes

SYNC = '/api/v1/sources/{name}/sync'
SOURCE = 'prod-state'  # the walk's source, the example of the sync route


def check_sources(spec, paths, docs, req, check, check_problem, read, admin, state_file):
    """Check 7 of the module docstring (after the generic walk)."""

    def doc_ok(name, r, b, status, schema):
        doc, errs = None, []
        ok = r.status == status and (r.getheader('Content-Type') or '').startswith('application/json')
        if ok:
            try:
                doc = json.loads(b)
                errs = validate(spec, {'$ref': '#/components/schemas/' + schema}, doc)
            except ValueError as e:
                errs = [str(e)]
        check(name, ok and not errs, (r.status, errs or b))
        return doc if ok and not errs else None

    def sources():
        r, b = req('/api/v1/sources', read)
        return doc_ok('GET /api/v1/sources: 200 Sources', r, b, 200, 'Sources')

    def entry(doc):
        return {e['source']: e for e in doc['sources']}.get(SOURCE) if doc else None

    def idle():
        # wait for syncs queued by the walk (202) to end: later checks
        # expect a fresh sync of their own
        deadline = time.time() + 20
        while time.time() < deadline:
            r, b = req('/api/v1/sources', read)
            if r.status == 200:
                e = {e['source']: e for e in json.loads(b)['sources']}.get(SOURCE)
                if e and not e['running'] and not e['queued']:
                    return True
            time.sleep(0.05)
        check('the walk\'s syncs of %s end within 20 s' % SOURCE, False)
        return False

    check('spec: %s and /api/v1/sources are documented' % SYNC, SYNC in paths and '/api/v1/sources' in paths)
    if SYNC not in paths or '/api/v1/sources' not in paths:
        return
    example = {p['name']: p.get('example') for p in
               (resolve(spec, x) for x in paths[SYNC]['post'].get('parameters', []))}
    check('spec: the sync route\'s example is the walk\'s source %r' % SOURCE, example.get('name') == SOURCE, example)
    first = docs.get(SYNC)
    check('first sync with wait=true (the walk\'s own): result committed at a revision',
          isinstance(first, dict) and first.get('source') == SOURCE and first.get('result') == 'committed'
          and isinstance(first.get('revision'), int) and first.get('error') is None, first)
    url = '/api/v1/sources/%s/sync' % SOURCE
    idle()

    r, b = req(url + '?wait=false', admin, 'POST')
    q = doc_ok('POST sync?wait=false: 202 SyncQueued', r, b, 202, 'SyncQueued')
    check('wait=false: the sync is queued now', q and q['source'] == SOURCE and q['queued'] is True
          and q['already_queued_or_running'] is False, q)
    r, b = req(url + '?wait=0', admin, 'POST')
    q = doc_ok('POST sync?wait=0 right after: 202 SyncQueued', r, b, 202, 'SyncQueued')
    # the first may have finished already (a tiny state): joining a queued run
    # and queueing behind a running one are checked in tests/test_sync.c
    check('a second request right after: queued (a fresh run, or joined/behind the first)',
          q is not None and q['queued'] is True and isinstance(q['already_queued_or_running'], bool), q)
    r, b = req(url + '?wait=1', admin, 'POST')
    res = doc_ok('POST sync?wait=1: 200 SyncResult', r, b, 200, 'SyncResult')
    check('the same state again: unchanged, no revision',
          res and res['result'] == 'unchanged' and res['revision'] is None and res['error'] is None, res)

    doc = sources()
    e = entry(doc)
    check('GET /api/v1/sources lists %s: configured, on demand, idle' % SOURCE,
          e and e['configured'] is True and e['schedule_seconds'] is None and e['next_run'] is None
          and e['running'] is False and e['queued'] is False, e)
    st = e and e['status']
    check('its status record: the source, kind terraform, result unchanged, the first sync\'s revision',
          isinstance(st, dict) and st['source'] == SOURCE and st['kind'] == 'terraform'
          and st['result'] == 'unchanged' and st['last_error'] is None and isinstance(first, dict)
          and st['revision'] == first.get('revision') and st['last_success'] is not None, st)

    r, b = req('/api/v1/sources/nope/sync?wait=true', admin, 'POST')
    check_problem('POST sync of a source not in the config: 404', r, b, 404)
    check('the 404 names the source', b'nope' in b, b)
    for bad in ('/api/v1/sources/a%2Fb/sync', '/api/v1/sources/a/b/sync', '/api/v1/sources/%00/sync',
                '/api/v1/sources/a%zz/sync', url + '?wait=maybe', url + '?wait=', url + '?wait=true&wait=true',
                url + '?wait=true&x=1', url + '?x=1'):
        r, b = req(bad, admin, 'POST')
        check_problem('POST %s: 400' % bad, r, b, 400)
    r, b = req(url.replace(SOURCE, urllib.parse.quote(SOURCE, safe='').replace('-', '%2D')) + '?wait=true',
               admin, 'POST')
    res = doc_ok('POST sync with the name percent-encoded: 200', r, b, 200, 'SyncResult')
    check('  ... of the same source', res and res['source'] == SOURCE, res)
    r, b = req('/api/v1/sources?x=1', read)
    check_problem('GET /api/v1/sources?x=1: 400', r, b, 400)
    r, b = req('/api/v1/sources', read, 'POST')
    check_problem('POST /api/v1/sources: 405', r, b, 405)
    check('  ... Allow: GET, HEAD', r.getheader('Allow') == 'GET, HEAD', r.getheader('Allow'))
    r, b = req(url, None, 'POST')
    check_problem('POST sync without a token: 401', r, b, 401)
    r, b = req(url + '?wait=true', read, 'POST')
    check_problem('POST sync with the read token: 403', r, b, 403)
    check('  ... naming the admin role', b'admin' in b, b)

    r, b = req('/metrics', read)
    text = b.decode('utf-8', 'replace')
    for m in ('stacktwin_source_last_success_timestamp_seconds', 'stacktwin_source_staleness_seconds',
              'stacktwin_source_last_sync_duration_seconds', 'stacktwin_source_up',
              'stacktwin_source_sync_running', 'stacktwin_source_syncs_total',
              'stacktwin_source_sync_failures_total'):
        check('/metrics: %s{source="%s"}' % (m, SOURCE), '\n%s{source="%s"} ' % (m, SOURCE) in text)
    check('/metrics: route labels sources and source-sync',
          'route="sources",code="200"' in text and 'route="source-sync",code="202"' in text
          and 'route="source-sync",code="200"' in text)

    if not state_file:
        return
    # a broken state: the sync fails, which is still a 200 with the result
    with open(state_file, encoding='utf-8') as f:
        good = f.read()
    with open(state_file, 'w', encoding='utf-8') as f:
        f.write('{"version":4,"serial":9,"resources":[{"mode":')
    try:
        r, b = req(url + '?wait=true', admin, 'POST')
        res = doc_ok('POST sync of a broken state: 200 SyncResult', r, b, 200, 'SyncResult')
        check('  ... result failed, no revision, the error names the file',
              res and res['result'] == 'failed' and res['revision'] is None
              and 'tfstate' in (res['error'] or ''), res)
        e = entry(sources())
        st = e and e['status']
        check('the failed status record: result failed, last_error, last_success kept',
              isinstance(st, dict) and st['result'] == 'failed' and isinstance(st['last_error'], str)
              and st['last_success'] is not None, st)
        r, b = req('/metrics', read)
        check('/metrics: the source is down after the failure',
              '\nstacktwin_source_up{source="%s"} 0\n' % SOURCE in b.decode('utf-8', 'replace'))
    finally:
        with open(state_file, 'w', encoding='utf-8') as f:
            f.write(good)
    r, b = req(url + '?wait=true', admin, 'POST')
    res = doc_ok('POST sync of the state put back: 200 SyncResult', r, b, 200, 'SyncResult')
    check('  ... not failed', res and res['result'] in ('committed', 'unchanged'), res)

# ------------------------------------------------------------------ walk


def main():
    spec_path, port, token, admin_token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    state_file = sys.argv[5] if len(sys.argv) > 5 else None
    with open(spec_path, encoding='utf-8') as f:
        spec = parse_yaml(f.read())
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    failed = [0]

    def bearer(t):
        return {'Authorization': 'Bearer ' + t}

    def req(path, headers=None, method='GET'):
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        return r, body

    def check(name, cond, extra=''):
        if cond:
            print('ok: ' + name)
        else:
            print('FAIL: ' + name + (': ' + str(extra)[:400] if extra else ''))
            failed[0] += 1

    def url(path, params, path_params):
        for k, v in path_params.items():
            path = path.replace('{%s}' % k, urllib.parse.quote(str(v), safe=':/'))
        return path + ('?' + urllib.parse.urlencode(params) if params else '')

    problem_schema = {'$ref': '#/components/schemas/Problem'}

    def check_problem(name, r, b, status):
        ok = r.status == status and r.getheader('Content-Type') == 'application/problem+json'
        errs = []
        if ok:
            try:
                doc = json.loads(b)
                errs = validate(spec, problem_schema, doc)
                ok = not errs and doc['status'] == status
            except ValueError as e:
                ok, errs = False, [str(e)]
        check(name, ok, (r.status, r.getheader('Content-Type'), b, errs))

    check('spec is OpenAPI 3.1', str(spec.get('openapi', '')).startswith('3.1'), spec.get('openapi'))
    schemes = spec.get('components', {}).get('securitySchemes', {})
    check('spec: bearerAuth is an http bearer scheme',
          schemes.get('bearerAuth', {}).get('type') == 'http' and
          schemes['bearerAuth'].get('scheme') == 'bearer')
    paths = spec['paths']
    check('spec has paths', len(paths) >= 10, list(paths))
    concrete = {}
    docs = {}  # the answer with every example, per path
    for path, item in paths.items():
        check('%s: one operation, GET or POST' % path, len(item) == 1 and set(item) <= {'get', 'post'}, sorted(item))
        method = 'POST' if 'post' in item else 'GET'
        op = item[method.lower()]
        admin = method == 'POST'
        check('%s: POST operations and only they are admin routes (x-role: admin)' % path,
              (op.get('x-role') == 'admin') == admin, op.get('x-role'))
        auth = bearer(admin_token if admin else token)
        params = [resolve(spec, p) for p in op.get('parameters', [])]
        public = op.get('security', spec.get('security')) == []
        responses = op['responses']
        check('%s: parameters are query or path parameters with a schema and an example' % path,
              all(p.get('in') in ('query', 'path') and 'schema' in p and 'example' in p for p in params))
        check('%s: path parameters are required and in the path' % path,
              all(p.get('required') is True and '{%s}' % p['name'] in path for p in params if p['in'] == 'path'))
        has_cursor = any(p['name'] == 'cursor' for p in params)
        need = {'200', '400', '405', '503'} | (set() if public else {'401', '403'}) | \
            ({'410'} if has_cursor else set()) | \
            ({'404'} if any(p['required'] and p['name'] in ('id', 'from', 'to') and
                            resolve(spec, p['schema']).get('format') != 'date' or p['in'] == 'path'
                            for p in params) else set())
        check('%s: responses %s documented' % (path, sorted(need)), need <= set(responses), sorted(responses))
        successes = sorted(c for c in responses if c.startswith('2'))
        for code, resp in responses.items():
            resp = resolve(spec, resp)
            if code in successes:
                check('%s %s: a JSON or text document' % (path, code), 'content' in resp and len(resp['content']) == 1)
            elif not (public and code == '503'):
                check('%s %s: application/problem+json Problem' % (path, code),
                      resp['content']['application/problem+json']['schema'] == problem_schema)
        content = resolve(spec, responses['200'])['content']
        check('%s: one media type for 200' % path, len(content) == 1, sorted(content))
        media, = content

        qparams = [p for p in params if p['in'] == 'query']
        pparams = {p['name']: p['example'] for p in params if p['in'] == 'path'}
        concrete[path] = url(path, {}, pparams)

        def ok_call(name, qs, codes=('200',)):
            # The status must be one of codes, the Content-Type's media type
            # that of its response in the spec (parameters such as charset
            # may be added); JSON is parsed, text is a string.
            r, b = req(url(path, qs, pparams), auth, method)
            ctype = (r.getheader('Content-Type') or '').split(';')[0].strip()
            code = str(r.status)
            good = code in codes
            errs = []
            doc = None
            if good:
                (want, mt), = resolve(spec, responses[code])['content'].items()
                good = ctype == want.split(';')[0].strip()
            if good:
                try:
                    doc = json.loads(b) if ctype == 'application/json' else b.decode('utf-8')
                    errs = validate(spec, mt['schema'], doc)
                except ValueError as e:
                    errs = [str(e)]
            check('%s %s: %s and the body matches the schema' % (path, name, ' or '.join(codes)),
                  good and not errs, (r.status, ctype, errs or b))
            return doc

        examples = {p['name']: p['example'] for p in qparams if p['name'] != 'cursor'}
        required = [p['name'] for p in qparams if p.get('required')]
        doc = ok_call('with every example parameter', examples)
        if has_cursor:
            nxt = doc.get('next_cursor') if isinstance(doc, dict) else None
            check('%s: the examples give more than one page (next_cursor)' % path, isinstance(nxt, str), doc)
            if isinstance(nxt, str):
                ok_call('following next_cursor', dict(examples, cursor=nxt))
        docs[path] = doc
        ok_call('with the required parameters only', {k: examples[k] for k in required}, successes)

        r, b = req(url(path, examples, pparams), method=method)
        if public:
            check('%s without a token: 200 (security: [])' % path, r.status == 200, (r.status, b))
        else:
            check_problem('%s without a token: 401' % path, r, b, 401)
            check('%s without a token: WWW-Authenticate: Bearer' % path,
                  r.getheader('WWW-Authenticate') == 'Bearer')
            r, b = req(url(path, examples, pparams), bearer('not-' + token), method)
            check_problem('%s with a wrong token: 403' % path, r, b, 403)
            if admin:
                r, b = req(url(path, examples, pparams), bearer(token), method)
                check_problem('%s with the read token: 403' % path, r, b, 403)
        for name in required:
            qs = {k: v for k, v in examples.items() if k != name}
            r, b = req(url(path, qs, pparams), auth, method)
            check_problem('%s without required %r: 400' % (path, name), r, b, 400)
        other = 'GET' if admin else 'POST'
        r, b = req(url(path, examples, pparams), auth, other)
        check_problem('%s %s: 405' % (path, other), r, b, 405)
        check('%s %s: Allow header names %s' % (path, other, method), method in (r.getheader('Allow') or ''),
              r.getheader('Allow'))

    check_sources(spec, paths, docs, req, check, check_problem, bearer(token), bearer(admin_token),
                  state_file)

    # Completeness: the server answers nothing under /api/v1/ that the spec leaves out.
    for extra in ('/api/v1/', '/api/v1', '/api/v1/nodes', '/api/v1/blast_radius',
                  '/api/v1/neighbour', '/api/v1/stats/', '/api/v1/Stats', '/api/v1/owner',
                  '/api/v1/costs', '/api/v1/paths', '/api/v1/metrics', '/api/v1/healthz',
                  '/api/v1/admin', '/api/v1/admin/', '/api/v1/admin/sync', '/api/v1/whoami/',
                  '/api/v1/node/x', '/api/v1/source', '/api/v1/sourcez'):
        if extra in paths:
            continue
        r, b = req(extra, bearer(admin_token))
        check_problem('%s (not in the spec): 404' % extra, r, b, 404)
    # Under /api/v1/sources/ only POST is taken (any other method is 405), so
    # the paths there that are not the sync route are tried with POST.
    for extra in ('/api/v1/sources/', '/api/v1/sources/prod-state', '/api/v1/sources//sync',
                  '/api/v1/sources/sync', '/api/v1/sources/prod-state/sync/',
                  '/api/v1/sources/prod-state/synced', '/api/v1/sources/prod-state/status'):
        r, b = req(extra, bearer(admin_token), 'POST')
        check_problem('POST %s (not in the spec): 404' % extra, r, b, 404)
    for path in paths:
        r, b = req(concrete[path], bearer(admin_token))
        check('%s (in the spec) is a route: not 404' % path, r.status != 404, (r.status, b))
    conn.close()
    print('%d paths walked, %d failures' % (len(paths), failed[0]))
    return 1 if failed[0] else 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except SpecError as e:
        print('FAIL: docs/openapi.yaml: %s' % e)
        sys.exit(1)
