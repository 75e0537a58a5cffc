-- protected: GET /api/v7.1/Clients with a valid bearer token. DATAFILE lines are
-- access tokens; the requests cycle through the thread's tokens.

local reqs, i

function init(args)
  reqs = {}
  for _, t in ipairs(share(read_lines(args[1]), tonumber(args[2]))) do
    reqs[#reqs + 1] = wrk.format("GET", "/api/v7.1/Clients", { ["Authorization"] = "Bearer " .. t })
  end
  i = 0
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
