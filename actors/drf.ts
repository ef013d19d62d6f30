/**
 * Weighted Dominant Resource Fairness (Ghodsi et al., NSDI 2011), the pure
 * arithmetic. A tenant's dominant share is the largest fraction of any one
 * resource (CPU, memory) it holds, divided by its weight; DRF's progressive
 * filling gives the next task to the tenant with the smallest dominant
 * share whose task fits, until no task fits. With equal weights and equal
 * demands that is an equal split; with weights 1 and 2 the second tenant
 * ends with twice the dominant share of the first.
 *
 * The scheduler (`scheduler.ts`) makes the same choice one decision at a
 * time with {@link dominantShare}; {@link drfAllocate} runs the whole
 * filling at once, for tests and for reasoning about what a cluster should
 * converge to.
 */

/** Amounts of the two resources Grey schedules. */
export interface DrfResources {
  cpu: number;
  memoryBytes: number;
}

/** One tenant in {@link drfAllocate}: its weight, what each of its tasks needs, and how many tasks it wants at most. */
export interface DrfTenant {
  id: string;
  /** Priority weight (> 0): fair share = weight / Σ weights. */
  weight: number;
  /** Resources of one task (the same for all of the tenant's tasks). */
  demand: DrfResources;
  /** Tasks it has waiting (default: unbounded). */
  tasks?: number;
}

/**
 * The weighted dominant share of a tenant holding `used` out of `total`:
 * max(used.cpu / total.cpu, used.memoryBytes / total.memoryBytes) / weight.
 * A resource the cluster has none of counts as 0 (nothing of it can be held).
 */
export function dominantShare(usedCpu: number, usedMemory: number, totalCpu: number, totalMemory: number, weight: number): number {
  const cpu = totalCpu > 0 ? usedCpu / totalCpu : 0;
  const memory = totalMemory > 0 ? usedMemory / totalMemory : 0;
  return (cpu > memory ? cpu : memory) / weight;
}

/**
 * Progressive filling: how many tasks each tenant gets out of `capacity`.
 * Each step gives one task to the tenant with the smallest weighted
 * dominant share among those with a task that still fits (ties: the one
 * listed first). Work-conserving: a tenant that wants nothing more, or
 * whose task no longer fits, stops taking, and the others go on.
 *
 * The DRF paper's example: 9 CPUs and 18 GB, A's tasks ⟨1 CPU, 4 GB⟩ and
 * B's ⟨3 CPU, 1 GB⟩ → A 3 tasks, B 2 tasks (both at a dominant share of 2/3).
 *
 * @throws RangeError for a weight that is not > 0, a negative demand, or a
 *   task that needs nothing (it would be given tasks forever).
 */
export function drfAllocate(capacity: DrfResources, tenants: readonly DrfTenant[]): Map<string, number> {
  for (const t of tenants) {
    if (!(t.weight > 0) || !Number.isFinite(t.weight)) throw new RangeError(`drfAllocate: tenant ${t.id}: weight must be a finite number > 0, got ${t.weight}`);
    if (!(t.demand.cpu >= 0) || !(t.demand.memoryBytes >= 0)) throw new RangeError(`drfAllocate: tenant ${t.id}: demand must be ≥ 0 in each resource`);
    if (t.demand.cpu === 0 && t.demand.memoryBytes === 0) throw new RangeError(`drfAllocate: tenant ${t.id}: a task must need some CPU or memory`);
  }
  const count = new Map<string, number>(tenants.map((t) => [t.id, 0]));
  const used = tenants.map(() => ({ cpu: 0, memoryBytes: 0 }));
  let freeCpu = capacity.cpu;
  let freeMemory = capacity.memoryBytes;
  for (;;) {
    let best = -1;
    let bestShare = 0;
    for (let i = 0; i < tenants.length; i++) {
      const t = tenants[i];
      if ((count.get(t.id) as number) >= (t.tasks ?? Infinity)) continue;
      if (t.demand.cpu > freeCpu || t.demand.memoryBytes > freeMemory) continue;
      const share = dominantShare(used[i].cpu, used[i].memoryBytes, capacity.cpu, capacity.memoryBytes, t.weight);
      if (best < 0 || share < bestShare) {
        best = i;
        bestShare = share;
      }
    }
    if (best < 0) return count;
    const t = tenants[best];
    used[best].cpu += t.demand.cpu;
    used[best].memoryBytes += t.demand.memoryBytes;
    freeCpu -= t.demand.cpu;
    freeMemory -= t.demand.memoryBytes;
    count.set(t.id, (count.get(t.id) as number) + 1);
  }
}
