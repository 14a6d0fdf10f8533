--[[
  A worker found a submission's enqueue intent old and its task not stored: the submitting process died between
  reserving the project's side and storing the task. Marks the check id abandoned (a hash without a project, which
  every read takes for "no such task"), so that a submission still alive cannot store it after the reservation is
  undone; the mark expires after an hour.

  KEYS[1] the task hash
  Output: 'abandoned' | 'exists'
]]
if redis.call('EXISTS', KEYS[1]) == 1 then return 'exists' end
redis.call('HSET', KEYS[1], 'abandoned', ARGV[1])
redis.call('EXPIRE', KEYS[1], 3600)
return 'abandoned'
