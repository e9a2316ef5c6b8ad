// Placeholder until the page is built.
export function InstrumentPage(_props: { route: string[] }) {
  return <main><p class="muted">This page is being built.</p></main>;
}
