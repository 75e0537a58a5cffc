-- create-delete: client churn. DATAFILE's first line is a user's access token. A
-- connection creates a client (POST Clients) when no created client waits to be
-- deleted, and otherwise deletes one (DELETE Clients?clientId=), so creations and
-- deletions alternate.

local auth, create, pending

function init(args)
  auth = { ["Authorization"] = "Bearer " .. read_lines(args[1])[1] }
  create = wrk.format("POST", "/api/v7.1/Clients", auth)
  pending = queue()
end

function request()
  local id = pending.pop()
  if id then
    return wrk.format("DELETE", "/api/v7.1/Clients?clientId=" .. id, auth)
  end
  return create
end

function response(status, headers, body)
  local id = body:match('"client_id":"([^"]+)"')
  if id then
    pending.push(id)
  end
end
