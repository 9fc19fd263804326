-- Gatehouse rate limits: every limit of one request decided at once, atomically, on Redis's
-- clock. A request denied by one limit commits none of the others.
--
-- KEYS[i]: the state of limit i (all keys share one hash tag, so this runs on Redis Cluster).
-- ARGV[1]: "" to use Redis TIME, or a clock in microseconds (unit tests only).
-- Then three arguments per limit: kind, a, b.
--   kind "r" (GCRA rate): a = emission interval in µs, b = burst. State: the theoretical
--     arrival time (TAT) in µs, expiring when it has passed (the limit is then fresh again).
--   kind "h" / "d" / "m" (quota per UTC hour / day / month): a = requests per window.
--     State: hash {w = window index, c = count}, expiring when the window ends.
-- Returns {1, remaining1, reset1, remaining2, reset2, ...} when every limit allows (and commits
-- them all), or {0, i, reset, retry_after} for the first limit i that denies.

local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
local secs = math.floor(now / 1000000)

-- Days since 1970-01-01 of the first day of month m of year y (H. Hinnant's days_from_civil).
local function days_from_civil(y, m)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m > 2) and (m - 3) or (m + 9)
  local doy = math.floor((153 * mp + 2) / 5)
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- The index of the UTC calendar window holding second s, and the second it ends.
local function window(kind, s)
  if kind == 'h' then
    local i = math.floor(s / 3600)
    return i, (i + 1) * 3600
  elseif kind == 'd' then
    local i = math.floor(s / 86400)
    return i, (i + 1) * 86400
  end
  local z = math.floor(s / 86400) + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m = (mp < 10) and (mp + 3) or (mp - 9)
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  local ny, nm = y, m + 1
  if m == 12 then ny, nm = y + 1, 1 end
  return y * 12 + m - 1, days_from_civil(ny, nm) * 86400
end

local out, commits = {1}, {}
for i = 1, #KEYS do
  local kind, a, b = ARGV[3 * i - 1], tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
  if kind == 'r' then
    local tat = tonumber(redis.call('GET', KEYS[i])) or 0
    if tat < now then tat = now end
    local new = tat + a
    local limit = now + a * b
    if new > limit then
      return {0, i, math.ceil((tat - now) / 1000000), math.max(1, math.ceil((new - limit) / 1000000))}
    end
    out[#out + 1] = math.floor((limit - new) / a)
    out[#out + 1] = math.ceil((new - now) / 1000000)
    commits[i] = new
  else
    local idx, stop = window(kind, secs)
    local st = redis.call('HMGET', KEYS[i], 'w', 'c')
    local count = 0
    if tonumber(st[1]) == idx then count = tonumber(st[2]) or 0 end
    local reset = math.max(1, stop - secs)
    if count >= a then
      return {0, i, reset, reset}
    end
    out[#out + 1] = a - count - 1
    out[#out + 1] = reset
    commits[i] = {idx, count + 1, reset}
  end
end

for i = 1, #KEYS do
  local c = commits[i]
  if type(c) == 'number' then
    redis.call('SET', KEYS[i], string.format('%.0f', c), 'PX', math.ceil((c - now) / 1000) + 1)
  else
    redis.call('HSET', KEYS[i], 'w', c[1], 'c', c[2])
    redis.call('EXPIRE', KEYS[i], c[3] + 1)
  end
end
return out
