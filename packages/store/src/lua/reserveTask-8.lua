--[[
  The project's side of a new task, decided in one step before the task itself is stored (storeTask): its
  Idempotency-Key, its backlog limit, its place in the project's Pending index and its share of the backlog.
  Nothing is written when the key was used before or the backlog would pass its limit.

  KEYS[1..8] the project's keys (includes/projectKeys.lua), KEYS[8] the Idempotency-Key when one was given
  ARGV[1] check id   ARGV[2] now (ms)   ARGV[3] the project's backlog limit, or -1
  ARGV[4] digest of the request body when an Idempotency-Key was given, else ''   ARGV[5] number of items n

  Output: { 'created' } | { 'backlog', unfinished items now } | { 'same', check id, created ms } (the key was used
          for this body) | { 'conflict', check id } (the key was used for another body)
]]
--- @include "projectKeys"

local checkId, now, max, digest, n = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
if digest ~= '' then
  local used = redis.call('GET', KEYS[8])
  if used then
    local id, usedDigest, created = string.match(used, '^(%S+) (%S+) (%S+)$')
    if usedDigest == digest then return { 'same', id, created } end
    return { 'conflict', id }
  end
end
if max >= 0 then
  local unfinished = tonumber(redis.call('HGET', KEYS[6], 'total') or '0')
  if unfinished + n > max then return { 'backlog', unfinished } end
end
redis.call('HSET', KEYS[6], checkId, n)
redis.call('HINCRBY', KEYS[6], 'total', n)
redis.call('EXPIRE', KEYS[6], COUNTER_TTL)
redis.call('ZADD', KEYS[1], 0, checkId)
if digest ~= '' then redis.call('SET', KEYS[8], checkId .. ' ' .. digest .. ' ' .. now) end
return { 'created' }
