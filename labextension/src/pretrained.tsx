import * as React from 'react';

import { sizeSummary } from './format';
import { IPretrained } from './model';

/** A local pretrained model: its name, kind and type, parameters, size and input. */
export function PretrainedRow(props: { model: IPretrained }): JSX.Element {
  const { model: m } = props;
  const input =
    m.kind === 'image'
      ? m.image_size
        ? `image ${m.image_size}px`
        : 'image'
      : m.max_length
        ? `max_length ${m.max_length}`
        : 'text';
  return (
    <li className="jp-AimassItem jp-AimassPretrained" data-pretrained={m.name}>
      <div className="jp-AimassItem-line">
        <span className="jp-AimassItem-name" title={m.path}>
          {m.name}
        </span>
        <span className="jp-AimassItem-kind">
          {`${m.kind} · ${m.model_type}`}
        </span>
      </div>
      <div className="jp-AimassItem-line jp-AimassItem-meta jp-AimassPretrained-size">
        <span>{sizeSummary(m.parameters, m.size_bytes)}</span>
        <span className="jp-AimassItem-kind">
          {input + (m.tokenizer ? ' · tokenizer' : '')}
        </span>
      </div>
    </li>
  );
}
