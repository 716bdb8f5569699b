import os from 'node:os';
import type postgres from 'postgres';
import { INDEX_BUILD_MEMORY } from './scratch';

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  /** 1-minute load average at the start and the end: other work on this shared machine. */
  loadAverageStart: number;
  loadAverageEnd?: number;
  os: string;
  node: string;
  postgres: string;
  pgvector: string;
  settings: Record<string, string>;
}

export async function machineInfo(admin: postgres.Sql): Promise<MachineInfo> {
  const [version] = await admin<Array<{ version: string }>>`select version()`;
  const [vector] = await admin<
    Array<{ default_version: string }>
  >`select default_version from pg_available_extensions where name = 'vector'`;
  const settings: Record<string, string> = {};
  for (const name of [
    'shared_buffers',
    'work_mem',
    'max_parallel_maintenance_workers',
    'max_parallel_workers_per_gather',
    'synchronous_commit',
    'max_wal_size',
  ]) {
    const [row] = await admin<
      Array<{ setting: string }>
    >`select current_setting(${name}) as setting`;
    settings[name] = row?.setting ?? '?';
  }
  settings.maintenance_work_mem = `${INDEX_BUILD_MEMORY} (on the scratch databases; server default left alone)`;
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    loadAverageStart: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: version?.version.split(' on ')[0] ?? 'unknown',
    pgvector: vector?.default_version ?? 'not installed',
    settings,
  };
}

export function finishMachineInfo(info: MachineInfo): MachineInfo {
  return { ...info, loadAverageEnd: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 };
}
