// A table of records: scrolls sideways on narrow screens, has a caption for screen readers and
// one column header per column; the rows are its children.
import type { ReactNode } from 'react';

export function DataTable({
  caption,
  columns,
  className,
  children,
}: {
  /** Read by screen readers only. */
  caption: ReactNode;
  /** The column headers, in order. */
  columns: readonly ReactNode[];
  className?: string;
  /** The `<tr>` rows. */
  children: ReactNode;
}) {
  return (
    <div className="table-wrap">
      <table className={className}>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column, i) => (
              <th key={i} scope="col">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
