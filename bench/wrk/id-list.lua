-- bench/wrk/id-list.lua — wrk script of bench/http-bench (docs/benchmarks.md).
--
--   wrk -t T -s bench/wrk/id-list.lua URL -- IDS TOKEN_FILE T PREFIX [SUFFIX]
--
-- Sends GET PREFIX .. id .. SUFFIX for the ids listed in the file IDS, one per
-- line and already percent-encoded (bench/http-bench writes it from a seeded
-- sample), with "Authorization: Bearer <first line of TOKEN_FILE>"; the token
-- is read here so that it never appears on a command line.  Each thread walks
-- the whole list in order from its own starting point (thread k of T starts
-- at k/T of the list; T must equal wrk's -t), so every run sends the same
-- sequence of ids.  All requests are built in init(), before the clock
-- starts, to keep the client's share of the two cores small.
--
-- done() prints one line, "wrk-summary key=value ...", with the exact
-- percentiles in microseconds; http-bench parses that rather than wrk's
-- rounded text.  This script must not define response(): wrk then parses
-- every response's headers into Lua, which costs the client a lot of CPU.

local threads = {}

function setup(thread)
	thread:set("tid", #threads)
	table.insert(threads, thread)
end

local requests = {}
local count = 0
local next_index = 1

local function first_line(path)
	local f = assert(io.open(path, "r"))
	local line = f:read("*l")
	f:close()
	return line
end

function init(args)
	local ids, token_file, nthreads = args[1], args[2], tonumber(args[3])
	local prefix, suffix = args[4], args[5] or ""
	if not ids or not token_file or not nthreads or not prefix then
		error("usage: wrk -t T -s id-list.lua URL -- IDS TOKEN_FILE T PREFIX [SUFFIX]")
	end
	local token = first_line(token_file)
	if not token or token == "" then
		error("empty token file " .. token_file)
	end
	wrk.headers["Authorization"] = "Bearer " .. token
	for id in io.lines(ids) do
		if id ~= "" then
			count = count + 1
			requests[count] = wrk.format("GET", prefix .. id .. suffix)
		end
	end
	if count == 0 then
		error("no ids in " .. ids)
	end
	-- tid is set by setup(), which wrk calls for each thread before its init()
	next_index = math.floor((tid or 0) * count / nthreads) % count + 1
end

function request()
	local r = requests[next_index]
	next_index = next_index + 1
	if next_index > count then
		next_index = 1
	end
	return r
end

function done(summary, latency, requests_)
	local e = summary.errors
	io.write(string.format(
		"wrk-summary requests=%d duration_us=%d bytes=%d status_errors=%d " ..
		"connect_errors=%d read_errors=%d write_errors=%d timeouts=%d " ..
		"mean_us=%.1f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
		summary.requests, summary.duration, summary.bytes, e.status,
		e.connect, e.read, e.write, e.timeout,
		latency.mean, latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency:percentile(99.9), latency.max))
end
