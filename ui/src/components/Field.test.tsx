import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { Select, SelectField, TextAreaField, TextField } from './Field';

describe('TextField', () => {
  it('ties label, hint and error to the input', () => {
    const onChange = vi.fn();
    render(
      <TextField
        id="slug"
        label="Short name"
        required
        maxLength={40}
        placeholder="acme"
        value="a"
        hint="Lower-case letters."
        error="too short"
        onChange={onChange}
      />,
    );
    const input = screen.getByLabelText('Short name') as HTMLInputElement;
    expect(input.id).toBe('slug');
    expect(input.required).toBe(true);
    expect(input.maxLength).toBe(40);
    expect(input.placeholder).toBe('acme');
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(input.getAttribute('aria-describedby')).toBe('slug-hint slug-error');
    expect(document.getElementById('slug-hint')?.textContent).toBe('Lower-case letters.');
    expect(document.getElementById('slug-error')?.textContent).toBe('too short');
    fireEvent.change(input, { target: { value: 'ab' } });
    expect(onChange).toHaveBeenCalledWith('ab');
  });

  it('is valid while its error is undefined, and names a custom error id', () => {
    render(
      <TextField
        id="t"
        label="Title"
        grow
        value=""
        error={undefined}
        errorId="t-msg"
        onChange={() => {}}
      />,
    );
    const input = screen.getByLabelText('Title');
    expect(input.getAttribute('aria-invalid')).toBe('false');
    expect(input.getAttribute('aria-describedby')).toBe('t-msg');
    expect(input.parentElement?.className).toBe('field grow');
    expect(document.getElementById('t-msg')).toBeNull();
  });

  it('has no ARIA state when it takes no error', () => {
    render(<TextField id="a" label="Action" type="datetime-local" value="" onChange={() => {}} />);
    const input = screen.getByLabelText('Action');
    expect(input.getAttribute('type')).toBe('datetime-local');
    expect(input.hasAttribute('aria-invalid')).toBe(false);
    expect(input.hasAttribute('aria-describedby')).toBe(false);
  });
});

describe('TextAreaField', () => {
  it('renders a labelled textarea', () => {
    const onChange = vi.fn();
    render(<TextAreaField id="d" label="Description" rows={2} value="x" onChange={onChange} />);
    const area = screen.getByLabelText('Description') as HTMLTextAreaElement;
    expect(area.tagName).toBe('TEXTAREA');
    expect(area.rows).toBe(2);
    fireEvent.change(area, { target: { value: 'y' } });
    expect(onChange).toHaveBeenCalledWith('y');
  });
});

describe('Select', () => {
  it('offers its options and hands back the chosen value with its type', () => {
    const onChange = vi.fn();
    render(
      <SelectField
        id="p"
        label="Priority"
        value={0}
        options={[0, 1, 2]}
        optionLabel={(p) => `P${p}`}
        onChange={onChange}
      />,
    );
    const select = screen.getByLabelText('Priority') as HTMLSelectElement;
    expect([...select.options].map((o) => o.text)).toEqual(['P0', 'P1', 'P2']);
    fireEvent.change(select, { target: { value: '2' } });
    expect(onChange).toHaveBeenCalledWith(2);
  });

  it('works inside a wrapping label', () => {
    const onChange = vi.fn();
    render(
      <label>
        Role of a
        <Select value="member" options={['admin', 'member']} onChange={onChange} />
      </label>,
    );
    const select = screen.getByLabelText('Role of a') as HTMLSelectElement;
    expect(select.value).toBe('member');
    fireEvent.change(select, { target: { value: 'admin' } });
    expect(onChange).toHaveBeenCalledWith('admin');
  });
});
