// Form fields: a label tied to its control by id, an optional hint, and — for fields the
// server can reject — `aria-invalid`, `aria-describedby` and the error message under it.
import type {
  InputHTMLAttributes,
  ReactNode,
  SelectHTMLAttributes,
  TextareaHTMLAttributes,
} from 'react';
import { FieldMessage } from './Feedback';

/**
 * What a field says about itself. Pass `error` (even while it is undefined) for a field the
 * server checks: the control then gets `aria-invalid` and is described by `errorId` (default
 * `<id>-error`), where the message appears. Leave it out for a field without messages.
 */
interface FieldProps {
  id: string;
  label: ReactNode;
  /** The field takes the rest of its row (`.field.grow`). */
  grow?: boolean;
  /** A line under the control (`<id>-hint`), read with it. */
  hint?: ReactNode;
  error?: string;
  errorId?: string;
}

type Omitted = 'id' | 'value' | 'onChange' | 'children';

/** The control's ARIA attributes and the wrapper around it, shared by every kind of field. */
function fieldParts(props: FieldProps) {
  const { id, label, grow, hint, error, errorId = `${id}-error` } = props;
  const checked = 'error' in props;
  const hintId = hint ? `${id}-hint` : undefined;
  const describedBy = [hintId, checked ? errorId : undefined].filter(Boolean).join(' ');
  const aria = {
    id,
    ...(checked ? { 'aria-invalid': Boolean(error) } : {}),
    ...(describedBy ? { 'aria-describedby': describedBy } : {}),
  };
  const wrap = (control: ReactNode) => (
    <div className={grow ? 'field grow' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {control}
      {hint ? (
        <p className="hint" id={hintId}>
          {hint}
        </p>
      ) : null}
      {checked ? <FieldMessage id={errorId} message={error} /> : null}
    </div>
  );
  return { aria, wrap };
}

function withoutFieldProps<T extends FieldProps>(props: T) {
  const { id: _id, label: _l, grow: _g, hint: _h, error: _e, errorId: _eid, ...rest } = props;
  return rest;
}

type TextFieldProps = FieldProps &
  Omit<InputHTMLAttributes<HTMLInputElement>, Omitted> & {
    value: string;
    onChange: (value: string) => void;
  };

/** A labelled `<input>` (text by default; pass `type` for email, date, …). */
export function TextField(props: TextFieldProps) {
  const { aria, wrap } = fieldParts(props);
  const { value, onChange, ...input } = withoutFieldProps(props);
  return wrap(
    <input {...input} {...aria} value={value} onChange={(e) => onChange(e.target.value)} />,
  );
}

type TextAreaFieldProps = FieldProps &
  Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, Omitted> & {
    value: string;
    onChange: (value: string) => void;
  };

/** A labelled `<textarea>`. */
export function TextAreaField(props: TextAreaFieldProps) {
  const { aria, wrap } = fieldParts(props);
  const { value, onChange, ...textarea } = withoutFieldProps(props);
  return wrap(
    <textarea {...textarea} {...aria} value={value} onChange={(e) => onChange(e.target.value)} />,
  );
}

type SelectProps<T extends string | number> = Omit<
  SelectHTMLAttributes<HTMLSelectElement>,
  'value' | 'onChange' | 'children'
> & {
  value: T;
  /** The choices, in order; each is an `<option>` whose text is `optionLabel(choice)`. */
  options: readonly T[];
  optionLabel?: (option: T) => ReactNode;
  /** Called with the chosen option itself (a number stays a number). */
  onChange: (value: T) => void;
};

/** A `<select>` over a list of values (roles, statuses, priorities, …). */
export function Select<T extends string | number>({
  value,
  options,
  optionLabel = String,
  onChange,
  ...select
}: SelectProps<T>) {
  return (
    <select
      {...select}
      value={value}
      onChange={(e) => {
        const chosen = options.find((o) => String(o) === e.target.value);
        if (chosen !== undefined) onChange(chosen);
      }}
    >
      {options.map((o) => (
        <option key={o} value={o}>
          {optionLabel(o)}
        </option>
      ))}
    </select>
  );
}

/** A labelled {@link Select}. */
export function SelectField<T extends string | number>(
  props: FieldProps & Omit<SelectProps<T>, 'id'>,
) {
  const { aria, wrap } = fieldParts(props);
  return wrap(<Select {...withoutFieldProps(props)} {...aria} />);
}
