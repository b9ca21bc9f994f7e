// The panel: loaded by the page bridge on the first Diagnose click (most
// console pages never need it), built minified into extension/panel.js. It
// renders the core's view models as text only (never innerHTML) and sends
// tagged messages through the bridge's `send`.

const NO_ANSWER = 'The consoledx service worker did not answer.';

function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

const button = (label, onclick, props) => h('button', { type: 'button', onclick, ...props }, label);

// Cloudscape's visual language: its font stack, spacing, radii and the
// light/dark palettes; dark follows the console's own mode class.
const STYLE = `
:host{--b:#fff;--ln:#c6c6cd;--s:#f3f3f7;--l:#006ce0;--hv:#f0fbff;--ht:#002b66;--m:#656871;--r:#db0000;--g:#00802f}
:host([data-mode=dark]){color:#dedee3;--b:#161d26;--ln:#424650;--s:#232b37;--l:#42b4ff;--hv:#1b232d;--ht:#75cfff;--m:#a4a4ad;--r:#ff7a7a;--g:#2bb534}
button{font:inherit;font-weight:700;border-radius:20px;border:2px solid var(--l);background:var(--b);color:var(--l);padding:2px 14px;cursor:pointer}
button:hover{background:var(--hv);color:var(--ht);border-color:var(--ht)}*:focus-visible{outline:2px solid var(--l);outline-offset:2px}
button.primary{background:#ff9900;border-color:#ff9900;color:#0f141a}button[aria-pressed=true]{background:var(--l);color:var(--b)}
button.icon{border:0;padding:0 6px;font-size:16px;line-height:20px;color:var(--m)}button.small{font-size:12px;padding:0 10px;border-width:1px}
section{margin-top:8px;padding:12px 16px;border:1px solid var(--ln);border-radius:16px;background:var(--b);max-width:80ch}
header{display:flex;align-items:center;gap:4px}h3{margin:0;font-size:16px;flex:1}h4{margin:12px 0 4px;font-size:14px}p{margin:4px 0}
.notice,.error{color:var(--r)}.muted{color:var(--m)}.ok{color:var(--g)}
ol{padding-left:20px;margin:4px 0}li{margin:8px 0}pre,code{font:12px/16px Monaco,Menlo,Consolas,monospace;word-break:break-all}pre{white-space:pre-wrap;background:var(--s);padding:6px 8px;border-radius:8px;margin:4px 0}
.copy{display:flex;gap:8px;align-items:flex-start}.copy>pre,.copy>code{flex:1}
.row{display:flex;gap:8px;flex-wrap:wrap;align-items:center;margin-top:8px}a{color:var(--l)}
textarea{font:inherit;color:inherit;background:var(--b);border:1px solid var(--ln);border-radius:8px;width:100%;box-sizing:border-box;padding:4px 8px}
.progress{height:4px;border-radius:2px;background:var(--s);overflow:hidden;margin:8px 0}.progress>i{display:block;height:100%;width:40%;background:var(--l);animation:slide 1.2s ease-in-out infinite}
@keyframes slide{from{transform:translateX(-100%)}to{transform:translateX(250%)}}
@media (prefers-reduced-motion:reduce){.progress>i{animation:none;width:100%;opacity:.5}*{transition:none!important}}`;

/**
 * Builds the panel's region into the banner's shadow root, beside the
 * Diagnose button the bridge made. `panel` is the bridge's record of the
 * banner: `root`, `button`, `send`, `snapshot()`; this adds the rest.
 */
export function mount(panel) {
  const title = h('h3', { tabindex: '-1' });
  const collapse = button('▾', () => setCollapsed(panel, !panel.collapsed), { class: 'icon', 'aria-expanded': 'true', 'aria-label': 'Collapse diagnosis', 'aria-controls': 'body' });
  const close = button('×', () => closePanel(panel), { class: 'icon', 'aria-label': 'Close diagnosis' });
  const status = h('p', { role: 'status', class: 'muted' });
  const body = h('div', { id: 'body' });
  const region = h('section', { role: 'region', 'aria-label': 'Diagnosis', hidden: true },
    h('header', {}, title, collapse, close), status, body);
  Object.assign(panel, { region, title, status, body, collapse, view: null, resolution: null, request: 0, collapsed: false, vote: null });
  panel.root.append(h('style', { text: STYLE }), region);
}

function setCollapsed(panel, collapsed) {
  panel.collapsed = collapsed;
  panel.body.hidden = collapsed;
  panel.collapse.setAttribute('aria-expanded', String(!collapsed));
  panel.collapse.setAttribute('aria-label', collapsed ? 'Expand diagnosis' : 'Collapse diagnosis');
  panel.collapse.textContent = collapsed ? '▸' : '▾';
}

function closePanel(panel) {
  panel.request += 1; // answers still on their way are dropped
  panel.state = 'idle';
  panel.region.hidden = true;
  panel.button.focus();
}

function show(panel, state, { title = 'consoledx', status = '', focus = false } = {}, ...children) {
  panel.state = state;
  panel.region.hidden = false;
  panel.region.dataset.state = state;
  panel.title.textContent = title;
  panel.status.textContent = status;
  const busy = state === 'loading' || state === 'resolving';
  panel.region.setAttribute('aria-busy', String(busy));
  panel.body.replaceChildren(
    ...(busy ? [h('div', { class: 'progress', role: 'progressbar', 'aria-label': status }, h('i'))] : []),
    ...children.flat().filter(Boolean),
  );
  setCollapsed(panel, false);
  if (focus) panel.title.focus({ preventScroll: true });
}

// Answers to a request the panel has since replaced (a re-diagnosis, a
// close) are dropped.
async function ask(panel, message, retry, onReply) {
  const request = ++panel.request;
  try {
    const reply = await panel.send(message);
    if (request !== panel.request) return;
    if (!reply || reply.type === 'Error') throw new Error(reply?.message ?? NO_ANSWER);
    const arrived = performance.now();
    onReply(reply);
    // Read by `cargo xtask bench`: view model in hand → panel DOM built.
    performance.measure('consoledx:render', { start: arrived });
  } catch (error) {
    if (request !== panel.request) return;
    show(panel, 'error', { title: 'consoledx could not finish', focus: true },
      h('p', { class: 'error', text: String(error.message ?? error) }),
      h('div', { class: 'row' }, button('Retry', retry)));
  }
}

/** `focus`: the user asked (move focus to the answer); a re-diagnosis after a text change does not. */
export function diagnose(panel, focus = true) {
  panel.resolution = null;
  panel.vote = null;
  show(panel, 'loading', { status: 'Diagnosing…' });
  ask(panel, { type: 'Diagnose', snapshot: panel.snapshot() }, () => diagnose(panel), (reply) => {
    panel.view = reply.view;
    renderAnalysis(panel, focus);
  });
}

function link(item) {
  return h('a', { href: item.url, target: '_blank', rel: 'noopener noreferrer', text: item.title || item.url });
}

async function copy(value, feedback) {
  try {
    await navigator.clipboard.writeText(value);
  } catch {
    // Clipboard API refused (no focus, older browser): copy through a selection.
    const area = h('textarea', { text: value, style: 'position:fixed;opacity:0' });
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  feedback.textContent = 'Copied';
  setTimeout(() => { feedback.textContent = ''; }, 1500);
}

/** A value shown as text with a Copy button named after what it copies. */
function copyable(tag, value, what) {
  const said = h('span', { role: 'status', class: 'muted' });
  const node = h('div', { class: 'copy' }, h(tag, { text: value }),
    button('Copy', () => copy(value, said), { class: 'small', 'aria-label': `Copy ${what}` }), said);
  return node;
}

function renderAnalysis(panel, focus = false) {
  const v = panel.view;
  if (v.diagnosisId) panel.region.dataset.diagnosisId = v.diagnosisId;
  const online = v.source === 'backend';
  const r = panel.resolution;
  show(panel, r ? 'resolved' : 'analysis', { title: v.title || 'Diagnosis', status: online ? '' : 'Local analysis', focus },
    v.notice && h('p', { class: 'notice', text: v.notice }),
    h('p', { text: v.analysis }),
    v.docs.length > 0 && h('p', {}, ...v.docs.map((d, i) => [i ? ' · ' : '', link(d)])),
    h('div', { class: 'row' },
      online && !r && button('Help me resolve', () => resolve(panel), { class: 'primary' }),
      v.retryable && button('Retry', () => diagnose(panel))),
    r && resolutionView(r),
    online && feedback(panel),
    details(v.sent));
}

function resolutionView(r) {
  return [
    h('h4', { text: 'How to resolve', tabindex: '-1', 'data-focus': 'steps' }),
    h('p', { text: r.cause }),
    h('ol', {}, r.steps.map((step, index) => h('li', {},
      h('strong', { text: step.title }),
      step.detail && h('p', { text: step.detail }),
      step.cli && copyable('pre', step.cli, `the command of step ${index + 1}`),
      step.policy && copyable('pre', step.policy, `the policy of step ${index + 1}`),
      (step.arns ?? []).map((arn) => copyable('code', arn, arn)),
      step.link && h('p', {}, link({ url: step.link, title: 'Open in the console' }))))),
    r.notChecked.length > 0 && h('p', { class: 'muted', text: `Not checked: ${r.notChecked.join('; ')}` }),
  ];
}

function feedback(panel) {
  const said = h('p', { role: 'status', class: 'ok' });
  const comment = h('textarea', { rows: '2', maxlength: '2000', 'aria-label': 'Comment (optional)', placeholder: 'What was right or wrong? (optional)' });
  const votes = [['helpful', 'Helpful'], ['not_helpful', 'Not helpful']].map(([verdict, label]) =>
    button(label, () => vote(verdict), { 'aria-pressed': String(panel.vote === verdict), 'data-verdict': verdict }));
  const vote = (verdict) => {
    const request = { type: 'Feedback', diagnosisId: panel.view.diagnosisId, verdict, comment: comment.value.trim() || null };
    panel.send(request).then((reply) => {
      if (!reply || reply.type === 'Error') throw new Error(reply?.message ?? NO_ANSWER);
      panel.vote = verdict;
      for (const b of votes) b.setAttribute('aria-pressed', String(b.dataset.verdict === verdict));
      said.className = 'ok';
      said.textContent = 'Thanks — your feedback was recorded. You can change it.';
    }).catch((error) => {
      said.className = 'error';
      said.textContent = `Feedback not sent: ${error.message ?? error}`;
    });
  };
  return h('div', {}, h('h4', { text: 'Was this helpful?' }), comment, h('div', { class: 'row' }, votes), said);
}

function details(sent) {
  return h('details', {}, h('summary', { text: 'Details sent' }),
    h('ul', {}, sent.items.map((item) => h('li', { text: `${item.label}: ${item.value}` }))),
    h('p', { class: 'muted', text: `${sent.redactions} value(s) redacted before sending.` }));
}

function resolve(panel) {
  const v = panel.view;
  show(panel, 'resolving', { title: v.title || 'Diagnosis', status: 'Reading your account…' });
  ask(panel, { type: 'Resolve', diagnosisId: v.diagnosisId, context: v.context }, () => resolve(panel), (reply) => {
    panel.resolution = reply.view;
    renderAnalysis(panel);
    panel.body.querySelector('[data-focus=steps]')?.focus({ preventScroll: true });
  });
}

