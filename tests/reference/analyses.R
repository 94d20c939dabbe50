# Reference numbers for Lutetia's analyses (issue 13), from R's survival package.
#   Rscript tests/reference/analyses.R > tests/reference/analyses.json
# The JSON carries the data too, so the tests need no R.
suppressMessages({library(survival); library(jsonlite)})

num <- function(x) unname(as.numeric(x))
na <- function(x) { x <- num(x); ifelse(is.finite(x), x, NA) }

cox_case <- function(name, formula, data, ties) {
  fit <- coxph(formula, data = data, ties = ties)
  s <- summary(fit)
  wald <- num(fit$wald.test)
  df <- length(coef(fit))
  list(
    name = name, ties = ties, n = fit$n, events = fit$nevent,
    terms = names(coef(fit)),
    coef = num(coef(fit)), se = num(sqrt(diag(vcov(fit)))),
    hr = num(exp(coef(fit))),
    ci_lower = num(s$conf.int[, "lower .95"]), ci_upper = num(s$conf.int[, "upper .95"]),
    z = num(s$coefficients[, "z"]), p = num(s$coefficients[, "Pr(>|z|)"]),
    lr = list(chi2 = num(s$logtest["test"]), df = df, p = num(s$logtest["pvalue"])),
    wald = list(chi2 = wald, df = df, p = pchisq(wald, df, lower.tail = FALSE)),
    score = list(chi2 = num(s$sctest["test"]), df = df, p = num(s$sctest["pvalue"])),
    concordance = list(c = num(s$concordance["C"]), se = num(s$concordance["se(C)"]))
  )
}

lung2 <- na.omit(lung[, c("time", "status", "age", "sex", "ph.ecog")])
lung2$event <- as.integer(lung2$status == 2)
vet <- veteran[, c("time", "status", "celltype", "karno", "age")]
vet$celltype <- as.character(vet$celltype)
vet_f <- vet; vet_f$celltype <- factor(vet_f$celltype)  # levels sorted: adeno large smallcell squamous
cox <- list()
for (ties in c("efron", "breslow")) {
  cox[[length(cox) + 1]] <- cox_case("lung", Surv(time, event) ~ age + sex + ph.ecog, lung2, ties)
  cox[[length(cox) + 1]] <- cox_case("veteran", Surv(time, status) ~ celltype + karno, vet_f, ties)
  cox[[length(cox) + 1]] <- cox_case("veteran_age", Surv(time, status) ~ age, vet_f, ties)
}

# Survival at fixed times and the restricted mean, for each CI type.
km_cases <- list()
times_of <- list(lung = c(0, 100, 365, 500.5, 730, 2000), veteran = c(1, 30, 90, 180, 365, 1000))
dat_of <- list(lung = data.frame(time = lung$time, event = as.integer(lung$status == 2)),
               veteran = data.frame(time = veteran$time, event = veteran$status))
tau_of <- list(lung = c(365, 730, 1022), veteran = c(100, 365, 999))
for (name in names(dat_of)) {
  d <- dat_of[[name]]
  for (ct in c("log-log", "log", "plain")) {
    fit <- survfit(Surv(time, event) ~ 1, data = d, conf.type = ct)
    st <- summary(fit, times = times_of[[name]], extend = TRUE)
    rm <- lapply(tau_of[[name]], function(tau) {
      tb <- summary(fit, rmean = tau)$table
      list(tau = tau, estimate = num(tb["rmean"]), se = num(tb["se(rmean)"]))
    })
    rev <- survfit(Surv(time, 1 - event) ~ 1, data = d, conf.type = ct)
    rq <- quantile(rev, 0.5)
    km_cases[[length(km_cases) + 1]] <- list(
      name = name, conf_type = ct,
      at_times = list(time = num(st$time), n_risk = num(st$n.risk), survival = num(st$surv),
                      ci_lower = na(st$lower), ci_upper = na(st$upper)),
      rmst = rm,
      reverse_km = list(median = na(rq$quantile), ci_lower = na(rq$lower), ci_upper = na(rq$upper))
    )
  }
}

# Aalen–Johansen: progression (pcm) with death competing, mgus2.
m <- mgus2
m$etime <- with(m, ifelse(pstat == 0, futime, ptime))
m$event <- with(m, ifelse(pstat == 0, 2 * death, 1))
m$sex <- as.character(m$sex)
aj <- function(d) {
  fit <- survfit(Surv(etime, factor(event, 0:2, c("censor", "pcm", "death"))) ~ 1, data = d)
  at <- summary(fit, times = c(0, 60, 120, 240, 360, 500), extend = TRUE)
  ev <- fit$n.event[, 2] + fit$n.event[, 3] > 0
  list(
    time = num(fit$time[ev]), n_risk = num(fit$n.risk[ev, 1]),
    progression = num(fit$pstate[ev, 2]), death = num(fit$pstate[ev, 3]),
    progression_lower = na(fit$lower[ev, 2]), progression_upper = na(fit$upper[ev, 2]),
    death_lower = na(fit$lower[ev, 3]), death_upper = na(fit$upper[ev, 3]),
    at_times = list(time = num(at$time), n_risk = num(at$n.risk[, 1]),
                    progression = num(at$pstate[, 2]), death = num(at$pstate[, 3]),
                    progression_lower = na(at$lower[, 2]), progression_upper = na(at$upper[, 2]))
  )
}
competing <- list(all = aj(m), F = aj(m[m$sex == "F", ]), M = aj(m[m$sex == "M", ]))

# Exact (Clopper–Pearson) intervals of response rates.
binom <- lapply(list(c(0, 10), c(3, 10), c(10, 10), c(17, 33), c(1, 2), c(8, 33)), function(x) {
  b <- binom.test(x[1], x[2])
  list(count = x[1], n = x[2], lower = num(b$conf.int[1]), upper = num(b$conf.int[2]))
})

out <- list(
  generated_by = paste("R", R.version$major, R.version$minor, "survival", packageVersion("survival")),
  data = list(
    lung = list(time = lung2$time, event = lung2$event, age = lung2$age, sex = lung2$sex,
                ph_ecog = lung2$ph.ecog),
    lung_all = dat_of$lung,
    veteran = list(time = vet$time, status = vet$status, celltype = vet$celltype,
                   karno = vet$karno, age = vet$age),
    mgus2 = list(etime = m$etime, event = m$event, sex = m$sex)
  ),
  cox = cox, km = km_cases, competing = competing, binom = binom
)
cat(toJSON(out, digits = I(17), auto_unbox = TRUE, na = "null", dataframe = "columns"))
