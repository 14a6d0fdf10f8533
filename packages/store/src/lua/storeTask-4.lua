--[[
  Stores a new task's own keys in one step: the task with every item pending, its specs and sealed secrets. The
  project's side (backlog, index, Idempotency-Key) was reserved just before by reserveTask; a worker that found the
  submission dead in between marked the task abandoned (abandonTask), and then nothing is written here.
  Open tasks have no TTL: retention counts from the end (see endTask).

  KEYS[1..4] the task's keys (includes/taskKeys.lua; its events stream is not written here)
  ARGV[1] check id   ARGV[2] now (ms)   ARGV[3] the items' pools as runs, JSON [[pool, count], ...]   ARGV[4] project
  ARGV[5] task type   ARGV[6] more task fields, JSON {field: value} (connection, retention, callback, idem)
  ARGV[7] number of items n   ARGV[8] initial item state JSON   ARGV[9] number of sealed secrets s
  ARGV[10 .. 9+n] item spec JSON by index, then s pairs: index, sealed secrets

  Output: 'created' | 'abandoned'
]]
--- @include "taskKeys"

if redis.call('EXISTS', KEYS[1]) == 1 then return 'abandoned' end
local now, n, secrets = ARGV[2], tonumber(ARGV[7]), tonumber(ARGV[9])
redis.call('HSET', KEYS[1], 'project', ARGV[4], 'type', ARGV[5], 'status', 'Pending', 'created_at', now,
  'total', n, 'succeeded', 0, 'failed', 0, 'canceled', 0, 'running', 0, 'pools', ARGV[3])
for field, value in pairs(cjson.decode(ARGV[6])) do redis.call('HSET', KEYS[1], field, value) end
local specs, states = {}, {}
for i = 0, n - 1 do
  specs[#specs + 1] = i
  specs[#specs + 1] = ARGV[10 + i]
  states[#states + 1] = i
  states[#states + 1] = ARGV[8]
end
hsetMany(KEYS[3], specs)
hsetMany(KEYS[2], states)
if secrets > 0 then
  local sealed = {}
  for i = 10 + n, 9 + n + 2 * secrets do sealed[#sealed + 1] = ARGV[i] end
  hsetMany(KEYS[4], sealed)
end
return 'created'
