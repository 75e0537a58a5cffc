-- Shared by every scenario; the driver (bench/cmd/vroauth-bench) puts it before the
-- scenario's own script. wrk is run as:
--
--   wrk -t T -c C -d D -s script.lua URL -- DATAFILE T
--
-- Each thread reads DATAFILE (one entry a line) and takes its share of the entries;
-- done() prints the result as one JSON line that starts with "BENCH ".

local counter = 0

-- setup runs in the main Lua state once per thread, before the thread's init.
function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
end

-- read_lines returns the non-empty lines of the file at path.
function read_lines(path)
  local t = {}
  for line in io.lines(path) do
    if line ~= "" then
      t[#t + 1] = line
    end
  end
  return t
end

-- share returns the entries of list that belong to this thread, of n threads; when
-- there are fewer entries than threads, every thread gets them all.
function share(list, n)
  if #list < n then
    return list
  end
  local mine = {}
  for i, v in ipairs(list) do
    if (i - 1) % n == thread_index then
      mine[#mine + 1] = v
    end
  end
  return mine
end

-- queue is a FIFO of strings.
function queue(items)
  local q = { first = 1, last = 0, items = {} }
  for _, v in ipairs(items or {}) do
    q.last = q.last + 1
    q.items[q.last] = v
  end
  function q.push(v)
    q.last = q.last + 1
    q.items[q.last] = v
  end
  function q.pop()
    if q.first > q.last then
      return nil
    end
    local v = q.items[q.first]
    q.items[q.first] = nil
    q.first = q.first + 1
    return v
  end
  return q
end

form_headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"errors_connect":%d,"errors_read":%d,' ..
    '"errors_write":%d,"errors_status":%d,"errors_timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
