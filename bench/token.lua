-- token: client_credentials grants. DATAFILE lines are "<client_id> <client_secret>";
-- the requests cycle through the thread's clients.

local reqs, i

function init(args)
  reqs = {}
  for _, line in ipairs(share(read_lines(args[1]), tonumber(args[2]))) do
    local id, secret = line:match("^(%S+) (%S+)$")
    reqs[#reqs + 1] = wrk.format("POST", "/api/token", form_headers,
      "grant_type=client_credentials&client_id=" .. id .. "&client_secret=" .. secret)
  end
  i = 0
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end
