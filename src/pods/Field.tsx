import * as React from 'react';

/**
 * A form control with its label's text above it.
 */
export function Field(props: {
  label: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <label className="jp-gpuguard-field">
      <span>{props.label}</span>
      {props.children}
    </label>
  );
}
