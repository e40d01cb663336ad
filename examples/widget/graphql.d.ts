/** An operation file of queries/, as build.mjs loads it: its text with the fragments it spreads. */
declare module "*.graphql" {
  const text: string;
  export default text;
}
