-- POST one fixed JSON body, BENCH_REQUESTS_PER_THREAD times per thread, counting answers that
-- lack BENCH_EXPECT as failures. wrk itself only stops at the end of its duration or on SIGINT,
-- so each thread prints "thread-done" when it has its count, and the caller sends SIGINT
-- once every thread has; wrk then prints the JSON line of results from `done`. Answers carrying
-- a GraphQL `"errors":` key are counted apart. BENCH_HEADERS adds headers, one "Name: value" a line.
local body_file = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = body_file:read("*a")
body_file:close()
wrk.headers["Content-Type"] = "application/json"
for name, value in string.gmatch(os.getenv("BENCH_HEADERS") or "", "([^:\n]+):%s*([^\n]*)") do
  wrk.headers[name] = value
end

local expect = os.getenv("BENCH_EXPECT")
local per_thread = tonumber(os.getenv("BENCH_REQUESTS_PER_THREAD"))
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  answered = 0
  failures = 0
  graphql_errors = 0
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 or not string.find(body, expect, 1, true) then
    failures = failures + 1
  end
  if string.find(body, '"errors":', 1, true) then
    graphql_errors = graphql_errors + 1
  end
  if answered == per_thread then
    io.write("thread-done\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local failed = 0
  local graphql_errors = 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("failures")
    graphql_errors = graphql_errors + thread:get("graphql_errors")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "failures": %d, "graphql_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    failed, graphql_errors, errors.connect + errors.read + errors.write + errors.timeout))
end
