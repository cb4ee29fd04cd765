/** Auto-login for Lingma instances: the recipe runner (browser side) and the login coordinator. */
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
