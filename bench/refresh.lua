-- refresh: refresh_token grants. DATAFILE lines are unspent refresh tokens, each
-- usable once; every answer's new refresh token goes back into the thread's pool, so
-- the pool keeps its size while the answers succeed. Give each thread more tokens
-- than connections.

local pool

function init(args)
  pool = queue(share(read_lines(args[1]), tonumber(args[2])))
end

function request()
  local t = pool.pop() or "exhausted"
  return wrk.format("POST", "/api/token", form_headers, "grant_type=refresh_token&refresh_token=" .. t)
end

function response(status, headers, body)
  local t = body:match('"refresh_token":"([^"]+)"')
  if t then
    pool.push(t)
  end
end
