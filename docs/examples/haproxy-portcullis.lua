-- Forward auth for HAProxy with Portcullis deciding every request, using nothing but HAProxy's own
-- Lua httpclient (HAProxy 2.5 or later, built with Lua as Debian's and Ubuntu's packages are).
-- Load it in `global` with `lua-load /etc/haproxy/portcullis.lua`, then in a frontend:
--     http-request lua.portcullis-decide http://127.0.0.1:8080/_portcullis/decide
-- This exact file is exercised by test/e2e/haproxy.e2e.test.ts, with docs/examples/haproxy-portcullis.cfg.
--
-- The decision call is built from scratch: only the headers named below reach Portcullis, so nothing a
-- client sends under X-Forwarded-*, X-Original-* or Forwarded can steer the decision. It names the
-- request in the X-Forwarded-* set, which Portcullis reads by default (settings forwardAuth.headers).

-- The client's credential headers passed to Portcullis. Add the header of settings
-- credentials.apiKeyHeader (lower case) if you configured one.
local CREDENTIALS = { "authorization" }

-- Portcullis's answer on 200: the identity, copied onto the request sent upstream. A client's own
-- copies are always removed first, also when the answer names none (anonymous access).
local IDENTITY = { "x-portcullis-user", "x-portcullis-groups", "x-portcullis-provider", "x-portcullis-token-id", "x-portcullis-assertion", "x-request-id" }

-- Headers of a refusal that go back to the client with Portcullis's status and JSON body.
local RELAYED = {
  "content-type", "cache-control", "www-authenticate", "retry-after", "x-request-id",
  "ratelimit", "ratelimit-policy", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
}

-- The first value of a response header. httpclient gives a list per name, numbered from 0 as
-- HAProxy's header tables are (from 1 is accepted too).
local function first(headers, name)
  local values = headers and headers[name]
  if type(values) == "table" then return values[0] or values[1] end
  return values
end

-- Portcullis could not be asked: refuse, never let the request through.
local function unavailable(txn)
  txn:done({
    status = 503,
    headers = { ["content-type"] = { "application/json" }, ["cache-control"] = { "no-store" } },
    body = '{"error":"unavailable","error_description":"access cannot be decided right now"}\n',
  })
end

core.register_action("portcullis-decide", { "http-req" }, function(txn, decide_url)
  local headers = {
    ["x-forwarded-method"] = { txn.sf:method() },
    ["x-forwarded-uri"] = { txn.sf:pathq() },
    ["x-forwarded-host"] = { txn.sf:req_fhdr("host") },
    -- HAProxy is the edge here: the address it sees, not what the client claims.
    ["x-forwarded-for"] = { txn.sf:src() },
  }
  for _, name in ipairs(CREDENTIALS) do
    local value = txn.sf:req_fhdr(name)
    if value ~= nil and value ~= "" then headers[name] = { value } end
  end

  local ok, res = pcall(function()
    return core.httpclient():get({ url = decide_url, headers = headers, timeout = 5000 })
  end)
  -- Every answer of Portcullis carries X-Request-Id: one without it is HAProxy's own (Portcullis unreachable).
  if not ok or res == nil or not res.status or first(res.headers, "x-request-id") == nil then
    unavailable(txn)
    return
  end

  if res.status >= 200 and res.status < 300 then
    for _, name in ipairs(IDENTITY) do
      local value = first(res.headers, name)
      if value ~= nil and value ~= "" then
        txn.http:req_set_header(name, value)
      else
        txn.http:req_del_header(name)
      end
    end
    return
  end

  local reply = txn:reply({ status = res.status, body = res.body or "" })
  for _, name in ipairs(RELAYED) do
    local value = first(res.headers, name)
    if value ~= nil then reply:add_header(name, value) end
  end
  txn:done(reply)
end, 1)
