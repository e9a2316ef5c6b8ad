import { render } from 'preact';
import { App } from './app';
import { live } from './live';
import './style.css';

live.start();
const root = document.getElementById('app');
if (root) render(<App />, root);
