// views/login.js - the login form (shown whatever the hash while nobody is logged in).
import {h, replace, setText} from '../dom.js';
import {api} from '../api.js';

/** Shows the form in root; onLogin(answer) gets POST /api/login's answer. notice: why we are here. */
export function mountLogin(root, onLogin, notice) {
  const user = h('input', {name: 'user', id: 'login-user', class: 'input', type: 'text',
    autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true});
  const password = h('input', {name: 'password', id: 'login-password', class: 'input',
    type: 'password', autocomplete: 'current-password', required: true});
  const error = h('p', {class: 'login-error', 'data-testid': 'login-error', role: 'alert'});
  const submit = h('button', {type: 'submit', class: 'btn btn--primary btn--block'}, 'Log in');
  const form = h('form', {class: 'login-form', 'data-testid': 'login-form', novalidate: true},
    h('div', {class: 'field'}, h('label', {for: 'login-user'}, 'User name'), user),
    h('div', {class: 'field'}, h('label', {for: 'login-password'}, 'Password'), password),
    error, submit);
  let timer = null;

  form.addEventListener('submit', async e => {
    e.preventDefault();
    if (submit.disabled) return;
    if (!user.value.trim() || !password.value) {
      setText(error, 'Enter your user name and password.');
      (user.value.trim() ? password : user).focus();
      return;
    }
    setText(error, '');
    submit.disabled = true;
    submit.setAttribute('aria-busy', 'true');
    try {
      const answer = await api.login(user.value.trim(), password.value);
      clearTimeout(timer);
      onLogin(answer);
    } catch (err) {
      password.value = '';
      // The server's own words (they name the wait when throttled), after a short lead.
      let msg = err.status === 0 ? err.message : `Login failed: ${err.message || 'unknown error'}`;
      if (!/[.!?]$/.test(msg)) msg += '.';
      if (err.status === 429 && err.retryAfter && !/\d/.test(msg)) {
        msg += ` Try again in ${err.retryAfter} s.`;
      }
      setText(error, msg);
      password.focus();
    } finally {
      submit.disabled = false;
      submit.removeAttribute('aria-busy');
    }
  });

  replace(root,
    h('main', {class: 'login', id: 'main', tabindex: '-1'},
      h('div', {class: 'login-card'},
        h('div', {class: 'brand brand--large'}, h('span', {class: 'logo', 'aria-hidden': 'true'}), 'Ferry'),
        h('h1', {class: 'login-title'}, 'Log in'),
        h('p', {class: 'muted'}, 'Background data sync: start syncs, follow them live, review every run.'),
        notice ? h('p', {class: 'alert alert--info', role: 'status'}, notice) : null,
        form)));
  user.focus();
}
