// Owns: starting the dashboard in the page. Must not: hold anything else.

import { render } from 'preact';
import { App } from './app';
import './style.css';

render(<App />, document.getElementById('app')!);
