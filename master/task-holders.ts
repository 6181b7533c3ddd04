/**
 * Which slaves were sent each task still in the master's table: only those may answer it.
 * A slave keeps its claim after its lease is taken away (it died, hung, was cut off or
 * reconnected), so its late answer can still count; a RESULT or FAIL from any other peer
 * is dropped. Claims are forgotten when the task's image leaves the table, so memory is
 * bounded by the tasks in flight. Pure: no I/O.
 */
export class TaskHolders {
  private readonly holders = new Map<number, string[]>();

  /** Records that `slaveId` was sent task `taskId`. */
  add(taskId: number, slaveId: string): void {
    const list = this.holders.get(taskId);
    if (list === undefined) this.holders.set(taskId, [slaveId]);
    else if (!list.includes(slaveId)) list.push(slaveId);
  }

  /** Whether `slaveId` was ever sent `taskId` (since the task entered the table). */
  holds(taskId: number, slaveId: string): boolean {
    return this.holders.get(taskId)?.includes(slaveId) ?? false;
  }

  /** Forgets tasks that left the table (their image is complete). */
  forget(taskIds: Iterable<number>): void {
    for (const id of taskIds) this.holders.delete(id);
  }

  /** Tasks with at least one holder. */
  get size(): number {
    return this.holders.size;
  }
}
