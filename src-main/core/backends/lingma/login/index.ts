/** Auto-login for Lingma instances: the recipe runner (browser side), the sign-in origin policy and the login coordinator. */
export {
  buildInspectScript,
  buildRecipeScript,
  classifyPage,
  ERROR_MARKERS,
  inspectPage,
  LOGIN_REASONS,
  runRecipeInPage,
  safeUrl,
  validateRecipe,
  type PageFacts,
  type PageKind,
  type RecipeArgs,
  type RecipeResult,
  type RecipeScriptOptions,
} from './recipe';
export {
  LoginCoordinator,
  loginStateError,
  type EnsureLoginOptions,
  type LoginCoordinatorEvents,
  type LoginCoordinatorOptions,
  type LoginDriverLimits,
  type LoginTarget,
} from './coordinator';
export {
  ALLOWED_ORIGINS_KEY,
  allowedOriginsIssues,
  createSignInPolicy,
  isHttpsDedicatedDomain,
  OFFICIAL_SIGNIN_DOMAINS,
  originOf,
  parseOriginPattern,
  type OriginPattern,
  type SignInPolicyOptions,
} from '../../../sign-in-policy';
