// prefs.js - the page's preferences for this browser, per user: localStorage
// "ferry.prefs.USER" = {"autodismiss": 10} (seconds a success notification stays; 0, the
// default, keeps it until dismissed). Failures always stay until dismissed.
import {h} from './dom.js';

export const AUTODISMISS_CHOICES = [0, 5, 10, 30, 60];

export class Prefs extends EventTarget {
  constructor(userName) {
    super();
    this.key = `ferry.prefs.${userName}`;
    this.values = {autodismiss: 0};
    try {
      const v = JSON.parse(localStorage.getItem(this.key) || '{}');
      if (Number.isInteger(v.autodismiss) && v.autodismiss > 0) this.values.autodismiss = v.autodismiss;
    } catch (e) {
      // unreadable: the defaults
    }
  }

  /** Seconds a success notification stays, 0 for until dismissed. */
  get autodismiss() {
    return this.values.autodismiss;
  }

  set autodismiss(seconds) {
    this.values.autodismiss = Number.isInteger(seconds) && seconds > 0 ? seconds : 0;
    try {
      localStorage.setItem(this.key, JSON.stringify(this.values));
    } catch (e) {
      // storage full or disabled: the choice holds for this page's life
    }
    this.dispatchEvent(new CustomEvent('change', {detail: {...this.values}}));
  }
}

function choiceLabel(seconds) {
  if (!seconds) return 'Never';
  return seconds < 60 ? `After ${seconds} s` : `After ${seconds / 60} min`;
}

/** The header's Settings disclosure: "Hide successful syncs' notifications" [Never|After 5 s|...]. */
export function prefsControl(prefs) {
  const id = 'pref-autodismiss';
  const choices = AUTODISMISS_CHOICES.includes(prefs.autodismiss)
    ? AUTODISMISS_CHOICES : [...AUTODISMISS_CHOICES, prefs.autodismiss].sort((a, b) => a - b);
  const select = h('select', {id, class: 'input input--small', 'data-testid': 'autodismiss'},
    ...choices.map(v => h('option', {value: String(v), selected: v === prefs.autodismiss}, choiceLabel(v))));
  select.addEventListener('change', () => {
    prefs.autodismiss = Number(select.value);
  });
  const summary = h('summary', {class: 'btn btn--ghost btn--small'}, 'Settings');
  const box = h('details', {class: 'prefs', 'data-testid': 'prefs'}, summary,
    h('div', {class: 'prefs-panel'},
      h('label', {for: id}, 'Hide notifications of successful syncs'),
      select,
      h('p', {class: 'muted'}, 'Failures stay until you dismiss them.')));
  box.addEventListener('keydown', e => {
    if (e.key === 'Escape' && box.open) {
      box.open = false;
      summary.focus();
    }
  });
  return box;
}
