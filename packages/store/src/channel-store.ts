// Owns: load-balancing channels (the gateway's "VPC channels") as saved per project and gateway instance: create,
// read, list, delete, with names unique per instance. Must not: validate members or check them (the API and the
// worker do); a channel holds addresses, never a credential.

import type { RedisClient } from './redis.js';
import type { StoreKeys } from './keys.js';
import { NameTakenError } from './name-taken-error.js';
import { type StoreCommands, defineScripts } from './scripts.js';

export interface ChannelMember {
  id: string;
  host: string;
  /** 0 = the channel's port. */
  port: number;
  weight: number;
  is_backup: boolean;
  member_group_name?: string;
  /** 1 available, 2 unavailable (as the operator set it). */
  status: number;
  create_time: string;
}

export interface ChannelMemberGroup {
  member_group_id: string;
  member_group_name: string;
  member_group_remark?: string;
  member_group_weight?: number;
  create_time: string;
  update_time: string;
}

export interface Channel {
  id: string;
  name: string;
  port: number;
  balance_strategy: number;
  member_type: string;
  type: number;
  vpc_channel_type: string;
  dict_code?: string;
  create_time: string;
  status: number;
  member_groups: ChannelMemberGroup[];
  members: ChannelMember[];
  vpc_health_config?: Record<string, unknown>;
}

export class ChannelStore {
  private readonly redis: RedisClient & StoreCommands;

  constructor(
    redis: RedisClient,
    private readonly keys: StoreKeys,
  ) {
    this.redis = defineScripts(redis);
  }

  /** Saves a channel; throws NameTakenError when its name is taken on the instance. */
  async create(project: string, instance: string, channel: Channel): Promise<void> {
    const reply = await this.redis.saveChannel(...this.keys.channelScriptKeys(project, instance), channel.id, channel.name, JSON.stringify(channel));
    if (Array.isArray(reply)) throw new NameTakenError(reply[1]);
  }

  async get(project: string, instance: string, id: string): Promise<Channel | undefined> {
    const raw = await this.redis.hget(this.keys.channels(project, instance), id);
    return raw ? (JSON.parse(raw) as Channel) : undefined;
  }

  /** Oldest first. */
  async list(project: string, instance: string): Promise<Channel[]> {
    const all = Object.values(await this.redis.hgetall(this.keys.channels(project, instance))).map((raw) => JSON.parse(raw) as Channel);
    return all.sort((a, b) => (a.create_time < b.create_time ? -1 : a.create_time > b.create_time ? 1 : a.id < b.id ? -1 : 1));
  }

  /** False when there was no such channel. */
  async delete(project: string, instance: string, id: string): Promise<boolean> {
    return (await this.redis.deleteChannel(...this.keys.channelScriptKeys(project, instance), id)) === 1;
  }
}
