// Placeholder until the page is built.
export function BridgePage(_props: { route: string[] }) {
  return <main><p class="muted">This page is being built.</p></main>;
}
