import * as React from 'react';

import { formatNumber } from './format';
import { IChallenge } from './model';

/** One workshop challenge (`GET challenges`): its metric, state and first three ranks. */
export function ChallengeRow(props: { challenge: IChallenge }): JSX.Element {
  const { challenge: c } = props;
  const state = c.frozen ? 'frozen' : 'open';
  return (
    <li
      className="jp-AimassItem jp-AimassChallenge"
      data-challenge={c.name}
      data-state={state}
      title={`train on ${c.public}; ${c.hidden_rows} hidden rows; owner ${c.owner}`}
    >
      <div className="jp-AimassItem-line">
        <span className="jp-AimassBadge" data-state={state}>
          {state}
        </span>
        <span className="jp-AimassItem-name">{c.name}</span>
        <span className="jp-AimassItem-kind">{c.metric}</span>
      </div>
      <div className="jp-AimassItem-line jp-AimassItem-meta">
        <span className="jp-AimassChallenge-count">
          {c.participants ?? 0} participants, {c.submissions ?? 0} submissions
        </span>
      </div>
      <ol className="jp-AimassChallenge-leaders">
        {(c.leaders ?? []).map(r => (
          <li
            key={r.participant}
            className="jp-AimassItem-line jp-AimassItem-meta"
            data-participant={r.participant}
          >
            <span>
              {r.rank}. {r.participant}
            </span>
            <span>{formatNumber(r.score)}</span>
          </li>
        ))}
      </ol>
    </li>
  );
}
