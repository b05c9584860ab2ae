-- wrk script: each request carries the next bearer token of BENCH_TOKENS (one per line), wrapping around.
-- With BENCH_DELAY_MS set, each connection pauses that long (randomly rounded to whole ms) before its next request.
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
end
local n = #tokens
-- BENCH_TOKEN_OFFSET: start further into the file (a measurement after a warm-up must not reuse its tokens).
local i = (tonumber(os.getenv("BENCH_TOKEN_OFFSET") or "0") or 0) % n
local headers = {}

request = function()
  i = i + 1
  if i > n then i = 1 end
  headers["Authorization"] = tokens[i]
  return wrk.format(nil, nil, headers)
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms then
  local base = math.floor(delay_ms)
  local frac = delay_ms - base
  delay = function()
    if math.random() < frac then return base + 1 end
    return base
  end
end
