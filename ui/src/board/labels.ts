// Words for task fields.
export const kPriorityLabels = ['No priority', 'Urgent', 'High', 'Medium', 'Low'] as const;

/** The priorities a task may have, in the order they are offered (0: none, 1: urgent … 4: low). */
export const kPriorities: readonly number[] = kPriorityLabels.map((_, i) => i);

export function priorityLabel(priority: number): string {
  return kPriorityLabels[priority] ?? 'No priority';
}
