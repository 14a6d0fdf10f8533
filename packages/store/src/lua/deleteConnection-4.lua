--[[
  Deletes a saved connection: its credentials go at once, its name is free again; it stays readable as DELETED for
  the retention, then expires with its pools.

  KEYS[1] connection hash   KEYS[2] its pools hash   KEYS[3] project's connections index   KEYS[4] project's names hash
  ARGV[1] id   ARGV[2] project   ARGV[3] now (ms)   ARGV[4] retention (s)

  Output: the pools it was bound to, or false when there is no such live connection in the project.
]]
if redis.call('HGET', KEYS[1], 'project') ~= ARGV[2] or redis.call('HGET', KEYS[1], 'status') ~= 'ACTIVE' then return false end
local pools = redis.call('HKEYS', KEYS[2])
redis.call('HDEL', KEYS[4], redis.call('HGET', KEYS[1], 'name'))
redis.call('HDEL', KEYS[1], 'secrets')
redis.call('HSET', KEYS[1], 'status', 'DELETED', 'deleted_time', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return pools
