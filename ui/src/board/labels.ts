// Words for task fields.
export const kPriorityLabels = ['No priority', 'Urgent', 'High', 'Medium', 'Low'] as const;

export function priorityLabel(priority: number): string {
  return kPriorityLabels[priority] ?? 'No priority';
}
