import * as React from 'react';

import { formatNumber, formatWhen } from './format';
import { IAlert } from './model';

/** One alert of the history (`GET alerts`): a rule of a deployment that fired or resolved. */
export function AlertRow(props: { alert: IAlert }): JSX.Element {
  const { alert: a } = props;
  return (
    <li
      className="jp-AimassItem jp-AimassAlert"
      data-deployment={a.deployment}
      data-state={a.state}
      title={a.message}
    >
      <div className="jp-AimassItem-line">
        <span className="jp-AimassBadge" data-state={a.state}>
          {a.state}
        </span>
        <span className="jp-AimassItem-name">{a.deployment}</span>
        <span className="jp-AimassItem-kind">
          {a.value === null || a.value === undefined
            ? 'no data'
            : formatNumber(a.value)}
        </span>
      </div>
      <div className="jp-AimassItem-line jp-AimassItem-meta">
        <span className="jp-AimassAlert-rule">{a.rule}</span>
        <span className="jp-AimassAlert-when">{formatWhen(a.at)}</span>
      </div>
    </li>
  );
}
