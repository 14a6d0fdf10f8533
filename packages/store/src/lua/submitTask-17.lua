--[[
  Stores a new task in one step: the task with every item pending, sealed secrets, its place in the project's
  Pending index and in the open tasks, its backlog, its pool among the known ones, an enqueue intent (the caller adds the jobs next and then
  clears the intent; a worker finishes an intent left behind), and the Idempotency-Key if one was given. Nothing
  is written when the key was used before or the project's backlog would pass its limit.
  Open tasks have no TTL: retention counts from the end (see endTask).

  KEYS[1..14] the task's keys (includes/taskKeys.lua)   KEYS[15] enqueue intents
  KEYS[16] the Idempotency-Key's key (any key when there is none)   KEYS[17] known pools (score = last use)
  ARGV[1] check id   ARGV[2] now (ms)   ARGV[3] the project's backlog limit, or -1
  ARGV[4] digest of the request body when an Idempotency-Key was given, else ''
  ARGV[5] the items' pools as runs, JSON [[pool, count], ...]   ARGV[6] project   ARGV[7] task type
  ARGV[8] more task fields, JSON {field: value} (connection, retention, callback)   ARGV[9] unused   ARGV[10] number of items n
  ARGV[11] initial item state JSON   ARGV[12] number of sealed secrets s   ARGV[13 .. 12+n] item spec JSON by index
  then s pairs: index, sealed secrets

  Output: { 'created' } | { 'backlog', unfinished items now } | { 'same', check id, created ms } (the key was used
          for this body) | { 'conflict', check id } (the key was used for another body)
]]
--- @include "taskKeys"

local checkId, now, max, digest = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local n, secrets = tonumber(ARGV[10]), tonumber(ARGV[12])

if digest ~= '' then
  local used = redis.call('GET', KEYS[16])
  if used then
    local id, usedDigest, created = string.match(used, '^(%S+) (%S+) (%S+)$')
    if usedDigest == digest then return { 'same', id, created } end
    return { 'conflict', id }
  end
end
if max >= 0 then
  local unfinished = tonumber(redis.call('GET', KEYS[10]) or '0')
  if unfinished + n > max then return { 'backlog', unfinished } end
end

redis.call('HSET', KEYS[1], 'project', ARGV[6], 'type', ARGV[7], 'status', 'Pending', 'created_at', now,
  'total', n, 'succeeded', 0, 'failed', 0, 'canceled', 0, 'running', 0, 'pools', ARGV[5])
for field, value in pairs(cjson.decode(ARGV[8])) do redis.call('HSET', KEYS[1], field, value) end
local specs, states = {}, {}
for i = 0, n - 1 do
  specs[#specs + 1] = i
  specs[#specs + 1] = ARGV[13 + i]
  states[#states + 1] = i
  states[#states + 1] = ARGV[11]
end
hsetMany(KEYS[3], specs)
hsetMany(KEYS[2], states)
if secrets > 0 then
  local sealed = {}
  for i = 13 + n, 12 + n + 2 * secrets do sealed[#sealed + 1] = ARGV[i] end
  hsetMany(KEYS[4], sealed)
end
redis.call('ZADD', KEYS[5], 0, checkId)
redis.call('ZADD', KEYS[11], now, checkId)
redis.call('ZADD', KEYS[15], now, checkId)
for _, run in ipairs(cjson.decode(ARGV[5])) do redis.call('ZADD', KEYS[17], now, run[1]) end
redis.call('EXPIRE', KEYS[17], 7 * 86400)
redis.call('INCRBY', KEYS[10], n)
redis.call('EXPIRE', KEYS[10], COUNTER_TTL)
if digest ~= '' then
  redis.call('SET', KEYS[16], checkId .. ' ' .. digest .. ' ' .. now)
  redis.call('HSET', KEYS[1], 'idem', KEYS[16])
end
return { 'created' }
