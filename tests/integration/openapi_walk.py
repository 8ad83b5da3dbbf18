#!/usr/bin/env python3
"""openapi_walk.py SPEC PORT READ_TOKEN ADMIN_TOKEN — walk docs/openapi.yaml
against a running `stacktwin serve` (started by openapi_walk.sh with one token
of each role) and check that the spec and the server agree.  Python 3
standard library only.

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
     schema; the same with only the required parameters.  The `cursor`
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
     cursor also 410 (stale cursor);
  6. the spec is complete: paths under /api/v1/ that are not in it are 404,
     and none of its paths is 404.
The JSON Schema validator knows the keywords the spec uses: $ref (local),
type (a name or a list of names, the list is how null is allowed), required,
properties, additionalProperties (a schema), items, enum, minimum, maximum,
minLength, pattern, format (date, date-time).
"""
import http.client
import json
import re
import sys
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
         'minimum', 'maximum', 'minLength', 'format', 'description', 'default', 'pattern'}
DATE = re.compile(r'\d{4}-\d{2}-\d{2}$')
DATETIME = re.compile(r'\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$')


def validate(spec, schema, v, where='$'):
    """A list of error strings (empty when v is valid)."""
    schema = resolve(spec, schema)
    unknown = set(schema) - KNOWN
    if unknown:
        raise SpecError('schema at %s uses unsupported keywords %s' % (where, sorted(unknown)))
    errs = []
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

# ------------------------------------------------------------------ walk


def main():
    spec_path, port, token, admin_token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
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
                            resolve(spec, p['schema']).get('format') != 'date' for p in params) else set())
        check('%s: responses %s documented' % (path, sorted(need)), need <= set(responses), sorted(responses))
        for code, resp in responses.items():
            resp = resolve(spec, resp)
            if code != '200' and not (public and code == '503'):
                check('%s %s: application/problem+json Problem' % (path, code),
                      resp['content']['application/problem+json']['schema'] == problem_schema)
        content = resolve(spec, responses['200'])['content']
        check('%s: one media type for 200' % path, len(content) == 1, sorted(content))
        media, = content
        ok_schema = content[media]['schema']

        qparams = [p for p in params if p['in'] == 'query']
        pparams = {p['name']: p['example'] for p in params if p['in'] == 'path'}
        concrete[path] = url(path, {}, pparams)

        def ok_call(name, qs):
            # The Content-Type's media type must be the spec's (parameters
            # such as charset may be added); JSON is parsed, text is a string.
            r, b = req(url(path, qs, pparams), auth, method)
            ctype = (r.getheader('Content-Type') or '').split(';')[0].strip()
            good = r.status == 200 and ctype == media.split(';')[0].strip()
            errs = []
            doc = None
            if good:
                try:
                    doc = json.loads(b) if ctype == 'application/json' else b.decode('utf-8')
                    errs = validate(spec, ok_schema, doc)
                except ValueError as e:
                    errs = [str(e)]
            check('%s %s: 200 and the body matches the schema' % (path, name),
                  good and not errs, (r.status, errs or b))
            return doc

        examples = {p['name']: p['example'] for p in qparams if p['name'] != 'cursor'}
        required = [p['name'] for p in qparams if p.get('required')]
        doc = ok_call('with every example parameter', examples)
        if has_cursor:
            nxt = doc.get('next_cursor') if isinstance(doc, dict) else None
            check('%s: the examples give more than one page (next_cursor)' % path, isinstance(nxt, str), doc)
            if isinstance(nxt, str):
                ok_call('following next_cursor', dict(examples, cursor=nxt))
        ok_call('with the required parameters only', {k: examples[k] for k in required})

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

    # Completeness: the server answers nothing under /api/v1/ that the spec leaves out.
    for extra in ('/api/v1/', '/api/v1', '/api/v1/nodes', '/api/v1/blast_radius',
                  '/api/v1/neighbour', '/api/v1/stats/', '/api/v1/Stats', '/api/v1/owner',
                  '/api/v1/costs', '/api/v1/paths', '/api/v1/metrics', '/api/v1/healthz',
                  '/api/v1/admin', '/api/v1/admin/', '/api/v1/admin/sync', '/api/v1/whoami/',
                  '/api/v1/node/x'):
        if extra in paths:
            continue
        r, b = req(extra, bearer(admin_token))
        check_problem('%s (not in the spec): 404' % extra, r, b, 404)
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
