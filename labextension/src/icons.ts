import { LabIcon } from '@jupyterlab/ui-components';

/**
 * The AI Mass mark: three layers of a small network inside a ring. Drawn with the theme's
 * icon colours (`jp-icon3`, `jp-icon-brand0`), so it follows light and dark themes.
 */
const AIMASS_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16" height="16">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 1.5a10.5 10.5 0 1 0 0 21 10.5 10.5 0 0 0 0-21zm0 1.8a8.7 8.7 0 1 1 0 17.4 8.7 8.7 0 0 1 0-17.4z"/>
    <path d="M7.2 8.4 11.4 6.7l.5 1.2-4.2 1.7zm0 7.2.5-1.2 4.2 1.7-.5 1.2zm5.3-8.9.5-1.2 4.1 2.3-.6 1.1zm0 10.6 4.1-2.3.6 1.1-4.1 2.3zM6.9 9.5h1.3v5H6.9zm3.9 2.1 4.9-2.6.6 1.1-4.9 2.6zm0 .8.6-1.1 4.9 2.6-.6 1.1z"/>
  </g>
  <g class="jp-icon-brand0" fill="#1976d2">
    <circle cx="7.5" cy="9" r="1.9"/>
    <circle cx="7.5" cy="15" r="1.9"/>
    <circle cx="12" cy="6.6" r="1.9"/>
    <circle cx="12" cy="12" r="1.9"/>
    <circle cx="12" cy="17.4" r="1.9"/>
    <circle cx="16.6" cy="9.6" r="1.9"/>
    <circle cx="16.6" cy="14.4" r="1.9"/>
  </g>
</svg>`;

export const aimassIcon = new LabIcon({
  name: 'aimass-lab:logo',
  svgstr: AIMASS_SVG
});
